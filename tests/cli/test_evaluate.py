"""``swinseg eval``: the numbers ``evaluate`` computes, TTA and other splits, and one-line errors for bad inputs."""

from __future__ import annotations

import json

import pytest

from swinseg.checkpoints.loading import load_model
from swinseg.checkpoints.saving import save_checkpoint
from swinseg.cli import main
from swinseg.data.config import DataConfig, build_dataset
from swinseg.evaluation.evaluate import evaluate
from swinseg.inference import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from tests.cli.conftest import error_line

# ----------------------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("backend", ["bf16", "int8"])
def test_eval_backend_is_the_backends_metric(synth_and_model, tmp_path, backend):
    from swinseg.inference.backends import prepare_backend

    root, checkpoint = synth_and_model
    out = tmp_path / f"{backend}.json"
    assert main(["eval", str(checkpoint), "--data", str(root), "--out", str(out), "--backend", backend]) == 0
    report = json.loads(out.read_text())
    dataset = build_dataset(DataConfig(root=str(root), scale=(128, 64)), train=False, progress=False)
    model = prepare_backend(load_model(checkpoint), backend)
    expected = evaluate(model, dataset, InferenceConfig("whole", (48, 48)), progress=False)
    assert report["settings"]["backend"] == backend
    assert report["mIoU"] == pytest.approx(expected["mIoU"], abs=1e-9)
