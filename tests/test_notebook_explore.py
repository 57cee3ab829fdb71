"""notebooks/explore_predictions.ipynb runs headless (nbclient) on synthetic data and reports the right mIoU."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from swinseg.checkpoints import load_model, save_checkpoint
from swinseg.data import (
    DataConfig,
    ade20k_classes,
    ade20k_dataset,
    eval_transform,
    generate_ade20k,
)
from swinseg.data.synth import SYNTH_CLASSES
from swinseg.evaluation.evaluate import evaluate
from swinseg.models import SegmentorConfig, build_model, swin_config
from swinseg.training.config import TrainConfig

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore_predictions.ipynb"


def test_committed_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def _toy_checkpoint(path: Path) -> Path:
    """A tiny random model whose scores favour the 20 classes the synthetic scenes use, so that its mIoU is
    small but not zero (a check that could not pass on 0.00 == 0.00), with a 64 px test scale."""
    torch.manual_seed(0)
    config = SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=150, decoder_args={"channels": 16}, aux_head=False)
    model = build_model(config).eval()
    names = ade20k_classes().names
    with torch.no_grad():
        model.decode_head.conv_seg.bias.fill_(-30.0)
        for name in SYNTH_CLASSES:
            model.decode_head.conv_seg.bias[names.index(name)] = 0.0
    run_config = TrainConfig(model=config, data=DataConfig(scale=(64, 64))).to_dict()
    return save_checkpoint(model, path, classes=ade20k_classes(), run_config=run_config)


def test_explore_predictions_runs_headless(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")

    root = generate_ade20k(tmp_path / "data", num_train=2, num_val=4, size=(64, 64), progress=False)
    checkpoint = _toy_checkpoint(tmp_path / "toy.safetensors")
    for key, value in {
        "SWINSEG_CHECKPOINT": str(checkpoint),
        "SWINSEG_DATA": str(root),
        "SWINSEG_SPLIT": "validation",
        "SWINSEG_MAX_IMAGES": "50",
        "SWINSEG_DEVICE": "cpu",
        "MPLBACKEND": "Agg",
        "TMPDIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(key, value)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 6  # two grids, IoU chart, heat map, legend, confidence figure
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "untrained" not in text  # a real checkpoint was given
    assert len(nbformat.writes(nb)) < 1_000_000  # small outputs

    printed = re.findall(r"mIoU: (\d+\.\d\d)", text)
    assert len(printed) == 1, text
    dataset = ade20k_dataset(root, "validation", transform=eval_transform((64, 64)), transform_mask=False, progress=False)
    expected = evaluate(load_model(checkpoint), dataset, progress=False)["mIoU"]
    assert expected > 0
    assert printed[0] == f"{expected:.2f}"


def test_explore_predictions_shows_the_demo_model_when_the_demo_has_run(tmp_path, monkeypatch):
    """A newcomer who ran `swinseg demo` and opens the notebook beside its folder sees the demo's trained model
    on its held-out scenes, with the mIoU the demo reported."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    from swinseg.demo import run_demo

    run_demo(tmp_path / "swinseg-demo", max_iters=2, num_train=4, num_val=3, progress=False)
    for key in ("SWINSEG_CHECKPOINT", "SWINSEG_DATA", "SWINSEG_SPLIT", "SWINSEG_MAX_IMAGES"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"SWINSEG_DEVICE": "cpu", "MPLBACKEND": "Agg", "TMPDIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream")  # fmt: skip
    assert "using the model `swinseg demo` trained" in text and "untrained" not in text
    demo_miou = json.loads((tmp_path / "swinseg-demo/report/metrics.json").read_text())["mIoU"]
    assert re.findall(r"mIoU: (\d+\.\d\d)", text) == [f"{demo_miou:.2f}"]
