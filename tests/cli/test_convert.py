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




def test_convert_onto_a_full_file_system_is_one_line_and_keeps_the_previous_file(tmp_path, toy_upernet, capsys):
    from swinseg.cli import main
    from tests.conftest import mounted_tmpfs

    src = tmp_path / "mmseg.pth"
    torch.save({"state_dict": to_mmseg(toy_upernet)}, src)
    assert main(["convert", str(src), str(tmp_path / "probe.safetensors")]) == 0
    size_kb = (tmp_path / "probe.safetensors").stat().st_size // 1024
    with mounted_tmpfs(tmp_path / "small", f"size={size_kb // 2}k") as small:  # half the checkpoint fits
        dst = small / "out.safetensors"
        dst.write_bytes(b"the previous file")
        before = dst.read_bytes()
        capsys.readouterr()
        assert main(["convert", str(src), str(dst), "--overwrite"]) == 1
        err = capsys.readouterr().err.strip()
        assert err == f"swinseg convert: error: {dst}: cannot write: No space left on device", err
        assert dst.read_bytes() == before and [p.name for p in small.iterdir()] == ["out.safetensors"]
