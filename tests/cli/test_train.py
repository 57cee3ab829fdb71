"""``swinseg train``: the checkpoint carries its recipe and classes, resume flags, one-line config errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from swinseg.checkpoints.loading import load_checkpoint
from swinseg.cli import main
from swinseg.inference import InferenceConfig
from swinseg.training.config import TrainConfig
from tests.blocks import tiny_config, write_blocks_dataset
from tests.cli.conftest import error_line

REPO = Path(__file__).resolve().parents[2]


def write_config(cfg: TrainConfig, path: Path) -> Path:
    path.write_text(yaml.safe_dump(json.loads(json.dumps(cfg.to_dict()))))
    return path


# ----------------------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------------------


def test_train_writes_a_checkpoint_that_carries_its_recipe_and_classes(tmp_path, capsys):
    data = write_blocks_dataset(tmp_path / "blocks")
    config = write_config(tiny_config(data, tmp_path / "unused"), tmp_path / "tiny.yaml")
    run = tmp_path / "run"
    assert main(["train", str(config), "--set", "max_iters=2", "optim.lr=2e-3", "--work-dir", str(run), "--quiet"]) == 0
    assert "best mIoU" in capsys.readouterr().out
    loaded = load_checkpoint(run / "best.safetensors")
    assert loaded.classes.names == ("background", "red", "green", "blue")
    assert loaded.recipe["max_iters"] == 2 and loaded.recipe["optim"]["lr"] == 2e-3
    assert loaded.inference == InferenceConfig(mode="whole", crop_size=(64, 64))  # the recipe's crop, resolved
    assert yaml.safe_load((run / "config.yaml").read_text())["work_dir"] == str(run)

    # a finished run is not repeated; --resume CKPT continues another run's state into a new directory
    assert main(["train", str(config), "--set", "max_iters=2", "optim.lr=2e-3", "--work-dir", str(run), "--quiet"]) == 0
    assert "already finished" in capsys.readouterr().out


def test_train_resume_flags(tmp_path, capsys):
    data = write_blocks_dataset(tmp_path / "blocks")
    config = write_config(tiny_config(data, tmp_path / "unused"), tmp_path / "tiny.yaml")
    assert main(["train", str(config), "--work-dir", str(tmp_path / "fresh"), "--resume", "--quiet"]) == 1
    assert re.fullmatch(r"swinseg train: error: .*fresh/last.pt: no checkpoint to resume from .*", error_line(capsys))
    missing = tmp_path / "elsewhere/last.pt"
    assert main(["train", str(config), "--work-dir", str(tmp_path / "r"), "--resume", str(missing), "--quiet"]) == 1
    assert error_line(capsys) == f"swinseg train: error: {missing}: no such training checkpoint to resume from"


def test_train_config_errors_are_one_line_with_a_suggestion(tmp_path, capsys):
    data = write_blocks_dataset(tmp_path / "blocks")
    config = write_config(tiny_config(data, tmp_path / "run"), tmp_path / "tiny.yaml")
    assert main(["train", str(config), "--set", "optim.lrr=1e-3"]) == 1
    assert error_line(capsys).startswith(
        f"swinseg train: error: {config}: unknown optim config key 'lrr' (did you mean 'lr'?)"
    )
    assert main(["train", str(config), "--set", "max_iter"]) == 1
    assert "expected key=value" in error_line(capsys)
    assert main(["train", str(tmp_path / "nope.yaml")]) == 1
    assert error_line(capsys).startswith(f"swinseg train: error: {tmp_path / 'nope.yaml'}: cannot read the config")
    shipped = REPO / "configs/upernet_swin_t_ade20k_512.yaml"
    nowhere = tmp_path / "nowhere"
    assert main(["train", str(shipped), "--set", f"data.root={nowhere}", "--work-dir", str(tmp_path / "r")]) == 1
    assert re.fullmatch(rf"swinseg train: error: {nowhere}/images/training: image directory not found", error_line(capsys))


# ----------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# score, data synth
# ----------------------------------------------------------------------------------------------------------


