"""``swinseg train``: the checkpoint carries its recipe and classes, resume flags, one-line config errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
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




# ----------------------------------------------------------------------------------------------------------
# bad configs: one line naming the key, exit status 1 (2 for bad command-line syntax), never a traceback
# ----------------------------------------------------------------------------------------------------------

DEMO = REPO / "configs" / "demo_cpu.yaml"
BAD_SETS = [  # (--set values on the demo recipe, the line's expected end)
    (["optim.lr=abc"], "optim.lr: expected a number > 0, got 'abc'"),
    (["optim.lr=0"], "optim.lr: expected a number > 0, got 0"),
    (["optim.lr=-1e-3"], "optim.lr: expected a number > 0, got -0.001"),
    (["data.num_workers=abc"], "data.num_workers: expected an integer >= 0, got 'abc'"),
    (["data.num_workers=-1"], "data.num_workers: expected an integer >= 0, got -1"),
    (["data.crop_size=[0,0]"], "data.crop_size.0: expected an integer > 0, got 0"),
    (["data.crop_size=[64,64,64]"], "data.crop_size: expected a list of 2 integers > 0, got [64, 64, 64]"),
    (["data.crop_size=big"], "data.crop_size: expected a list of 2 integers > 0, got 'big'"),
    (["max_iters=-5"], "max_iters: expected an integer > 0, got -5"),
    (["max_iters=2.5"], "max_iters: expected an integer > 0, got 2.5"),
    (["data.batch_size=0"], "data.batch_size: expected an integer > 0, got 0"),
    (["data.cat_max_ratio=1.5"], "data.cat_max_ratio: expected a number in [0, 1], got 1.5"),
    (["data.ratio_range=[2.0,0.5]"], "data.ratio_range: expected [low, high] with low <= high, got [2.0, 0.5]"),
    (["optim.betas=[0.9,1.0]"], "optim.betas.1: expected a number in [0, 1), got 1.0"),
    (["model.encoder.drop_path_rate=-0.1"], "model.encoder.drop_path_rate: expected a number in [0, 1), got -0.1"),
    (["model.encoder.depths=[2,two,2,2]"], "model.encoder.depths.1: expected an integer > 0, got 'two'"),
    (["model.num_classes=0"], "model.num_classes: expected an integer > 0, got 0"),
    (["amp=fp32"], "amp: expected one of 'auto', 'bf16', 'fp16', 'off', got 'fp32'"),
    (["inference.mode=tiles"], "inference.mode: expected one of 'whole', 'slide', 'auto', got 'tiles'"),
    (["data.dataset=coco"], "data.dataset: expected one of 'ade20k', 'ade20k_layout', 'voc', 'cityscapes', 'folder', "
                            "got 'coco'"),
    (["checkpoint_every=0"], "checkpoint_every: expected an integer > 0, got 0"),
    (["losses={ce: -1}"], "losses.ce: expected a number >= 0, got -1"),
    (["optim.clip_grad_norm=0"], "optim.clip_grad_norm: expected a number > 0 or null, got 0"),
    (["stop_signals=[SIGFOO]"], "stop_signals: unknown signal 'SIGFOO'; e.g. SIGTERM, SIGINT, SIGUSR1, SIGUSR2, SIGHUP"),
    (["optim.lrr=1e-3"], "unknown optim config key 'lrr' (did you mean 'lr'?); known: lr, betas, eps, weight_decay, "
                         "warmup_iters, warmup_start_factor, poly_power, min_lr, clip_grad_norm"),
    (["model.encoder.embed_dimm=32"], "unknown model.encoder config key 'embed_dimm' (did you mean 'embed_dim'?)"),
    (["optim=5"], "optim config must be a mapping of keys to values, not int"),
    (["max_iters.x=3"], "--set max_iters.x: max_iters is not a mapping"),
    (["seed=1.5"], "seed: expected an integer >= 0, got 1.5"),
]
BAD_FILES = [  # (file text, the line's expected end)
    ("", "the config is empty (see configs/ for complete recipes)"),
    ("max_iters: [1\n", "cannot read the config (while parsing a flow sequence)"),
    ("- 1\n- 2\n", "a config is a mapping of keys to values, not list"),
    ("optim: [1, 2]\n", "optim config must be a mapping of keys to values, not list"),
    ("model: {encoder: {depths: [2, 2], num_heads: [1, 2, 4, 8]}}\n", "depths (2, 2) and num_heads (1, 2, 4, 8) "
                                                                     "differ in length"),
    ("modle: {}\n", "unknown training config key 'modle' (did you mean 'model'?)"),
]


@pytest.mark.parametrize(("values", "expected"), BAD_SETS, ids=[v[0] for v, _ in BAD_SETS])
def test_a_bad_set_value_is_one_line_naming_the_key(values, expected, capsys):
    assert main(["train", str(DEMO), "--set", *values]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    line = err.strip()
    assert line.startswith(f"swinseg train: error: {DEMO}: ") and expected in line, line


@pytest.mark.parametrize(("text", "expected"), BAD_FILES, ids=[t[:12] or "empty" for t, _ in BAD_FILES])
def test_a_bad_config_file_is_one_line_naming_the_file(text, expected, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["train", str(path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.strip().startswith(f"swinseg train: error: {path}: ") and expected in err, err


def test_bad_command_line_syntax_is_exit_status_2(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(DEMO), "--set"])
    assert stop.value.code == 2 and "Traceback" not in capsys.readouterr().err
    assert main(["train", str(DEMO), "--set", "optim.lr"]) == 1
    assert "--set 'optim.lr': expected key=value" in capsys.readouterr().err
