"""The command line end to end on tiny data: train, eval, score, data synth, and the one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from swinseg.cli import main
from swinseg.data.classes import ade20k_classes
from swinseg.data.config import DataConfig, build_dataset
from swinseg.data.synth import generate_ade20k
from swinseg.training.config import TrainConfig
from swinseg.evaluation.evaluate import evaluate
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from swinseg.checkpoints.loading import load_checkpoint, load_model
from swinseg.inference import InferenceConfig
from swinseg.checkpoints.saving import save_checkpoint
from tests.conftest import randomize_
from tests.engine.conftest import tiny_config, write_blocks_dataset

REPO = Path(__file__).resolve().parents[2]


def error_line(capsys) -> str:
    """The error message: stderr's last line (progress bars may come before it), and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


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


def test_verbose_shows_the_traceback(tmp_path, capsys):
    assert main(["--verbose", "train", str(tmp_path / "nope.yaml")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("swinseg train: error:")


# ----------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_and_model(tmp_path_factory):
    """A 4-image synthetic ADE20K validation split and a random toy 150-class model carrying a small test scale."""
    tmp = tmp_path_factory.mktemp("eval")
    root = generate_ade20k(tmp / "synth", num_train=1, num_val=4, size=(64, 80), progress=False)
    config = SegmentorConfig(encoder=swin_config("swin_toy", window_size=4), num_classes=150,
                             decoder_args={"channels": 16}, aux_head=False)  # fmt: skip
    model = randomize_(build_model(config), seed=3).eval()
    run_config = TrainConfig(model=config, data=DataConfig(root=str(root), scale=(128, 64), crop_size=(48, 48)))
    checkpoint = save_checkpoint(model, tmp / "toy.safetensors", classes=ade20k_classes(), run_config=run_config.to_dict())
    return root, checkpoint


@pytest.mark.parametrize("mode", ["whole", "slide"])
def test_eval_prints_what_evaluate_computes(synth_and_model, tmp_path, capsys, mode):
    root, checkpoint = synth_and_model
    out = tmp_path / "val.json"
    assert main(["eval", str(checkpoint), "--data", str(root), "--mode", mode, "--out", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    model = load_model(checkpoint)
    dataset = build_dataset(DataConfig(root=str(root), scale=(128, 64)), train=False, progress=False)
    expected = evaluate(model, dataset, InferenceConfig(mode, (48, 48), (32, 32)), progress=False)
    report = json.loads(out.read_text())
    assert report["mIoU"] == pytest.approx(expected["mIoU"], abs=1e-9)
    assert report["per_class"] == expected["per_class"] and report["settings"]["stride"] == [32, 32]
    assert f"mIoU {expected['mIoU']:.2f}" in printed and "| Class | IoU | Acc | Dice |" in printed

    # the report is not overwritten unless asked
    before = out.read_text()
    assert main(["eval", str(checkpoint), "--data", str(root), "--out", str(out)]) == 1
    assert error_line(capsys) == f"swinseg eval: error: {out}: exists already (pass --overwrite to replace it)"
    assert out.read_text() == before


def test_eval_tta_and_other_split(synth_and_model, capsys):
    root, checkpoint = synth_and_model
    assert main(["eval", str(checkpoint), "--data", str(root), "--split", "training", "--tta"]) == 0
    assert "1 images" in capsys.readouterr().out


def test_eval_bad_inputs(synth_and_model, tmp_path, capsys):
    root, checkpoint = synth_and_model
    assert main(["eval", str(tmp_path / "missing.safetensors"), "--data", str(root)]) == 1
    assert error_line(capsys) == f"swinseg eval: error: {tmp_path / 'missing.safetensors'}: no such file or directory"
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint at all")
    assert main(["eval", str(garbage), "--data", str(root)]) == 1
    assert error_line(capsys).startswith(f"swinseg eval: error: {garbage}")
    small = save_checkpoint(build_model(SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=5,
                            decoder_args={"channels": 8}, aux_head=False)), tmp_path / "five.safetensors")  # fmt: skip
    assert main(["eval", str(small), "--data", str(root)]) == 1
    assert "150 classes, but" in error_line(capsys)


# ----------------------------------------------------------------------------------------------------------
# score, data synth
# ----------------------------------------------------------------------------------------------------------


def test_score_folder_of_predictions(synth_and_model, tmp_path, capsys):
    root, _ = synth_and_model
    ann_dir = root / "annotations/validation"
    pred_dir = tmp_path / "pred"
    pred_dir.mkdir()
    rng = np.random.default_rng(0)
    expected_hits = expected_valid = 0
    for ann in sorted(ann_dir.glob("*.png")):
        raw = np.array(Image.open(ann))
        label = raw.astype(np.int64) - 1  # ADE20K: 0 is "other" (ignored), v is class v - 1
        pred = np.where(rng.random(raw.shape) < 0.3, 0, np.maximum(label, 0))
        Image.fromarray(pred.astype(np.uint8)).save(pred_dir / ann.name)
        valid = raw > 0
        expected_hits += int((pred == label)[valid].sum())
        expected_valid += int(valid.sum())
    out = tmp_path / "scores.json"
    assert main(["score", str(pred_dir), str(ann_dir), "--out", str(out)]) == 0
    assert "4 images" in capsys.readouterr().out
    assert json.loads(out.read_text())["aAcc"] == pytest.approx(100 * expected_hits / expected_valid)

    (pred_dir / sorted(ann_dir.glob("*.png"))[0].name).unlink()
    assert main(["score", str(pred_dir), str(ann_dir)]) == 1
    assert "prediction missing for annotation" in error_line(capsys)


def test_data_synth_writes_the_ade20k_layout(tmp_path, capsys):
    assert main(["data", "synth", str(tmp_path / "s"), "--num", "2", "--num-val", "1", "--size", "48", "64"]) == 0
    root = tmp_path / "s/ADEChallengeData2016"
    assert len(list((root / "images/training").glob("*.jpg"))) == 2
    assert Image.open(next((root / "annotations/validation").glob("*.png"))).size == (64, 48)
    assert str(root) in capsys.readouterr().out
    assert main(["data", "synth", str(tmp_path / "s"), "--size", "8"]) == 1
    assert "at least 32 pixels" in error_line(capsys)


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
