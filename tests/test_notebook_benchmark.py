"""notebooks/benchmark.ipynb runs headless (nbclient) on a real ``swinseg benchmark`` file of a toy model and a
small training log, and plots them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from swinseg.cli import main

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "benchmark.ipynb"

TOY_CONFIG = """
model:
  encoder: {embed_dim: 16, depths: [2, 2, 2, 2], num_heads: [1, 2, 2, 4], window_size: 7}
  decoder: upernet
  num_classes: 5
  decoder_args: {channels: 16}
  aux_head: false
"""


def test_committed_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)


def test_benchmark_notebook_runs_headless(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")

    config = tmp_path / "toy.yaml"
    config.write_text(TOY_CONFIG)
    results = tmp_path / "benchmark.jsonl"
    argv = ["benchmark", "--config", str(config), "--sizes", "64", "--batch-sizes", "1", "2", "--runs", "1",
            "--warmup", "0", "--scaling", "64", "96", "--device", "cpu", "--out", str(results)]  # fmt: skip
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(argv) == 0
    (scaling,) = [r for r in map(json.loads, results.read_text().splitlines()) if r["kind"] == "scaling"]

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    log = [{"iter": 50, "loss": 2.1, "lr": 1e-4, "elapsed_s": 30.0},
           {"iter": 100, "mIoU": 4.5, "aAcc": 31.0, "elapsed_s": 75.0},
           {"iter": 150, "loss": 1.7, "lr": 9e-5, "elapsed_s": 100.0},
           {"iter": 200, "mIoU": 9.25, "aAcc": 45.0, "elapsed_s": 150.0}]  # fmt: skip
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))

    board = {"level": 0.9, "n_boot": 100, "seed": 0, "method": "percentile bootstrap over images", "rows": [
        {"name": "runs/b/best.safetensors", "mIoU": 41.5, "mIoU_ci": [40.25, 42.75], "params_m": 1.25, "gflops": 3.5,
         "eval_size": [64, 80], "img_per_s": 12.5},
        {"name": "runs/a/best.safetensors", "mIoU": 30.0, "mIoU_ci": [28.5, 31.5], "params_m": 0.5, "gflops": 1.5,
         "eval_size": [64, 80], "img_per_s": 20.0}]}  # fmt: skip
    (tmp_path / "board.json").write_text(json.dumps(board))

    for key, value in {
        "SWINSEG_LEADERBOARD_JSON": str(tmp_path / "board.json"),
        "SWINSEG_BENCHMARK_JSONL": str(results),
        "SWINSEG_RUN_DIR": str(run_dir),
        "MPLBACKEND": "Agg",
    }.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    resources = {"metadata": {"path": str(tmp_path)}}  # the kernel's working directory
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources=resources)
    client.execute()  # raises CellExecutionError on the first failing cell

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 5  # throughput, memory, seconds per megapixel, mIoU against time, leaderboard
    assert len(nbformat.writes(nb)) < 300_000  # small outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"swinseg: k = {scaling['exponent']:.2f} (time), {scaling['flops_exponent']:.2f} (FLOPs)" in text
    assert "best mIoU 9.25 at iteration 200 after 2.5 min" in text
    assert "best.safetensors: mIoU 41.50 [40.25, 42.75], 1.25 M params, 3.5 GFLOPs at 64x80, 12.50 img/s" in text
