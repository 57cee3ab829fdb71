"""``swinseg data synth``: the ADE20K release layout."""

from __future__ import annotations

from PIL import Image

from swinseg.cli import main


def error_line(capsys) -> str:
    """The error message: stderr's last line (progress bars may come before it), and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


# ----------------------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# score, data synth
# ----------------------------------------------------------------------------------------------------------


def test_data_synth_writes_the_ade20k_layout(tmp_path, capsys):
    assert main(["data", "synth", str(tmp_path / "s"), "--num", "2", "--num-val", "1", "--size", "48", "64"]) == 0
    root = tmp_path / "s/ADEChallengeData2016"
    assert len(list((root / "images/training").glob("*.jpg"))) == 2
    assert Image.open(next((root / "annotations/validation").glob("*.png"))).size == (64, 48)
    assert str(root) in capsys.readouterr().out
    assert main(["data", "synth", str(tmp_path / "s"), "--size", "8"]) == 1
    assert "at least 32 pixels" in error_line(capsys)


