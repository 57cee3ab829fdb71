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
