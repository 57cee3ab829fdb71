"""The command line itself: ``--verbose`` tracebacks, help with examples for every subcommand, ``python -m swinseg``."""

from __future__ import annotations

import pytest
import torch

from swinseg.cli import main

# ----------------------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------------------


def test_verbose_shows_the_traceback(tmp_path, capsys):
    assert main(["--verbose", "train", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("swinseg train: error:")


# ----------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# score, data synth
# ----------------------------------------------------------------------------------------------------------


def test_every_subcommand_has_help_with_examples(capsys):
    from swinseg.cli import COMMANDS

    for command in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            main([command, "synth", "--help"] if command == "data" else [command, "--help"])
        assert exit_info.value.code == 0
        assert "example" in capsys.readouterr().out, command


def test_python_dash_m_swinseg_runs_the_same_cli(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "swinseg", "convert", str(tmp_path / "x.pth"), str(tmp_path / "y.safetensors")],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == f"swinseg convert: error: {tmp_path / 'x.pth'}: no such file or directory"
    assert torch.__version__  # the interpreter the suite runs is the one the subprocess used


# In a fresh interpreter: run the CLI's main (--help: it imports every subcommand, and so torch), then report
# whether large tensors come page-aligned, which PyTorch's CPU allocator does only when it asks for huge pages.
_PAGE_ALIGNED_AFTER_MAIN = """
import sys
from swinseg.cli import main
assert "torch" not in sys.modules
try:
    main(["--help"])
except SystemExit:
    pass
import torch
print(all(torch.empty(n << 20, dtype=torch.uint8).data_ptr() % 4096 == 0 for n in (3, 8, 33, 8, 3)))
"""


@pytest.mark.parametrize("env_value, huge_pages", [(None, True), ("0", False)])
def test_the_cli_asks_for_huge_pages_unless_told_not_to(env_value, huge_pages):
    import os
    import subprocess
    import sys

    from swinseg.cli import HUGE_PAGES_ENV

    env = {k: v for k, v in os.environ.items() if k != HUGE_PAGES_ENV}
    if env_value is not None:
        env[HUGE_PAGES_ENV] = env_value
    done = subprocess.run([sys.executable, "-c", _PAGE_ALIGNED_AFTER_MAIN], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == str(huge_pages)


def test_every_file_the_commands_write_has_the_umasks_mode(blocks_dataset, tmp_path, capsys):
    """train, predict, score, convert and export under umask 027: every file 0640 (the atomic writes create
    their temporary files 0600 and must hand over the umask's mode), every folder 0750 or laxer."""
    import os
    import stat

    import yaml

    from tests.blocks import tiny_config

    old = os.umask(0o027)
    try:
        cfg = tiny_config(blocks_dataset, tmp_path / "run", max_iters=2, checkpoint_every=1, eval_every=2)
        config = tmp_path / "cfg.yaml"
        config.write_text(yaml.safe_dump(cfg.to_dict()))
        run = tmp_path / "run"
        images = blocks_dataset / "val" / "img"
        commands = [
            ["train", str(config), "--quiet"],
            ["predict", str(run), str(images), "--out", str(tmp_path / "pred"), "--overlay"],
            ["score", str(tmp_path / "pred"), str(blocks_dataset / "val" / "ann"), "--classes",
             str(blocks_dataset / "classes.json"), "--out", str(tmp_path / "score.json"), "--save-stats",
             str(tmp_path / "score.npz")],
            ["convert", str(run / "best.safetensors"), str(tmp_path / "converted.safetensors")],
            ["export", str(run / "best.safetensors"), "--onnx", str(tmp_path / "model.onnx"), "--size", "64", "64"],
        ]  # fmt: skip
        for command in commands:
            assert main(command) == 0, (command, capsys.readouterr().err)
    finally:
        os.umask(old)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "cfg.yaml"]
    assert {p.name for p in written} >= {"best.safetensors", "last.pt", "config.yaml", "metrics.jsonl",
                                         "score.json", "score.npz", "converted.safetensors", "model.onnx"}  # fmt: skip
    assert any(p.name.endswith("_overlay.jpg") for p in written) and any(p.suffix == ".png" for p in written)
    modes = {p.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in written}
    assert set(modes.values()) == {oct(0o640)}, modes
