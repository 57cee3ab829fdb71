"""``swinseg convert``: an mmseg checkpoint becomes a swinseg one with the same logits; no overwriting."""

from __future__ import annotations

import torch

from swinseg.checkpoints import load_model
from tests.checkpoints.conftest import to_mmseg, toy_upernet  # noqa: F401 (a fixture)
from tests.conftest import max_abs_diff


def test_convert_cli(tmp_path, toy_upernet, capsys):
    from swinseg.cli import main

    src = tmp_path / "mmseg.pth"
    torch.save({"state_dict": to_mmseg(toy_upernet)}, src)
    dst = tmp_path / "out.safetensors"
    assert main(["convert", str(src), str(dst)]) == 0
    assert "mmseg" in capsys.readouterr().out
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert max_abs_diff(load_model(dst)(x), toy_upernet(x)) < 1e-5
    assert main(["convert", str(src), str(dst)]) == 1  # exists: refused, one line on stderr
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exists already" in err


