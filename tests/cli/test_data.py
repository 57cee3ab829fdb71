"""``swinseg data synth``: the ADE20K release layout, hard or easy."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from swinseg.cli import main


def error_line(capsys) -> str:
    """The error message: stderr's last line (progress bars may come before it), and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


def test_data_synth_writes_the_ade20k_layout(tmp_path, capsys):
    assert main(["data", "synth", str(tmp_path / "s"), "--num", "2", "--num-val", "1", "--size", "48", "64"]) == 0
    root = tmp_path / "s/ADEChallengeData2016"
    assert len(list((root / "images/training").glob("*.jpg"))) == 2
    assert Image.open(next((root / "annotations/validation").glob("*.png"))).size == (64, 48)
    assert str(root) in capsys.readouterr().out
    assert main(["data", "synth", str(tmp_path / "s"), "--size", "8"]) == 1
    assert "at least 32 pixels" in error_line(capsys)




def test_data_synth_easy_writes_a_dataset_the_demo_recipe_trains_on(tmp_path, capsys):
    from swinseg.data.config import build_dataset
    from swinseg.training.config import load_train_config

    assert main(["data", "synth", str(tmp_path / "e"), "--variant", "easy", "--num", "2", "--num-val", "1",
                 "--size", "64"]) == 0  # fmt: skip
    assert "ade20k_layout" in capsys.readouterr().out
    cfg = load_train_config(Path(__file__).parents[2] / "configs/demo_cpu.yaml", {"data.root": str(tmp_path / "e")})
    val = build_dataset(cfg.data, train=False, progress=False)
    assert len(val) == 1 and val.num_classes == cfg.model.num_classes == 20
    assert not (tmp_path / "e/ADEChallengeData2016").exists()
