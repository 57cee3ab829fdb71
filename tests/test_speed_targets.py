"""``benchmarks/speed_targets.py`` end to end in ``--quick`` mode (swin_toy models, tiny sizes, one run): every
line is JSON, every record has the fields the README promises and sane values. No timing thresholds: these are
toy models on a shared machine. Nothing is downloaded (peers are built from configs with random weights)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swinseg import inference

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed_targets.py"
NAMES = {1: "upernet_inference", 2: "unet_inference", 3: "upernet_train_step", 4: "scaling", 5: "predict_folder",
         6: "cpu_backends", 7: "batched_throughput", 8: "upernet_inference_4x3"}


def load_script():
    spec = importlib.util.spec_from_file_location("speed_targets", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], Path]:
    """All targets in --quick mode, once for the module: (records from stdout, the --out file)."""
    out = tmp_path_factory.mktemp("speed_targets") / "results.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return records, out


def positive(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_out_file_holds_the_same_records(quick_run):
    records, out = quick_run
    assert [json.loads(line) for line in out.read_text().splitlines()] == records
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp file left behind


def test_host_idle_check_and_matmul_limit(quick_run):
    records, _ = quick_run
    host = {r["kind"]: r for r in records if r.get("target") == 0}
    assert set(host) == {"host", "idle_check", "matmul_limit"}
    assert host["host"]["threads"] == 1 and host["host"]["quick"] is True
    idle = host["idle_check"]
    assert idle["load_avg_1min"] >= 0 and idle["others_cpu_percent"] >= 0 and idle["sample_s"] > 0
    assert "warning" not in idle or "10 %" in idle["warning"]
    assert positive(host["matmul_limit"]["gflops_per_s"]) and positive(host["matmul_limit"]["seconds"])


def test_every_timing_record_is_sane(quick_run):
    records, _ = quick_run
    # all peers are installed in the dev extras; --quick leaves the compile backend out, and says so
    skipped = [r for r in records if "error" in r or "skipped" in r]
    assert [(r["target"], r["impl"], r["skipped"]) for r in skipped] == [(6, "compile", "--quick leaves compile out")]
    timings = [r for r in records if r.get("target", 0) not in (0, 6) and "impl" in r]
    assert len(timings) >= 16
    for r in timings:
        assert r["name"] == NAMES[r["target"]]
        assert positive(r["seconds"]) and positive(r["gflop"]) and positive(r["gflops_per_s"]), r
        assert 0 < r["fraction_of_limit"] < 1.5, r
    impls = {t: {r.get("mode", r["impl"]) for r in timings if r["target"] == t} for t in NAMES if t != 6}
    assert impls[1] == {"swinseg", "huggingface"}
    assert impls[2] == {"swinseg", "smp"}
    assert impls[3] == {"swinseg", "swinseg_checkpointing", "huggingface"}
    slides = {f for f in ("slide_inference", "slide_labels") if hasattr(inference, f)}
    assert impls[4] == {"whole"} | slides
    assert impls[5] == {"model_only", "predict_images", "model_only_batch_1", "evaluate_images"}
    batches = {r["impl"]: r["batches"] for r in timings if r["target"] == 5}
    assert batches["evaluate_images"] == batches["model_only_batch_1"] == 2  # one image at a time, as eval goes
    assert impls[7] == {"swinseg", "huggingface"} and all(r["batch"] == 4 for r in timings if r["target"] == 7)
    assert impls[8] == {"swinseg", "huggingface"}
    # target 1 is square; target 8 is a 4:3 photo at the test scale, whose sides are not multiples of 32
    assert {tuple(r["size"]) for r in timings if r["target"] in (1, 8)} == {(64, 64), (64, 85)}


def test_cpu_backends_are_timed_against_eager_with_their_pixel_agreement(quick_run):
    records, _ = quick_run
    rows = [r for r in records if r.get("target") == 6 and "skipped" not in r]
    assert {r["impl"] for r in rows} == {"eager", "bf16", "int8", "onnxruntime"}
    assert sorted({tuple(r["size"]) for r in rows}) == [(40, 56), (64, 64)]
    for r in rows:
        assert r["speedup_min"] <= r["speedup_vs_eager"] <= r["speedup_max"] and positive(r["latency_ms_p50"]), r
        assert 0.9 < r["pixel_agreement"] <= 1.0, r  # random weights: near-ties, yet far above chance
    eager = [r for r in rows if r["impl"] == "eager"]
    assert all(r["speedup_vs_eager"] == 1.0 and r["pixel_agreement"] == 1.0 for r in eager)
    onnx = [r for r in rows if r["impl"] == "onnxruntime"]
    assert all(r["pixel_agreement"] >= 0.999 for r in onnx)  # the same fp32 graph (a near-tie may flip)


def test_training_and_slide_memory_come_from_their_own_processes(quick_run):
    records, _ = quick_run
    train = {r["impl"]: r for r in records if r.get("target") == 3 and "impl" in r}
    for r in train.values():
        assert r["memory"] == "process_peak_rss" and positive(r["rss_growth_mb"]) and r["runs"] == 1
    # FLOPs (not time): recomputing the stages in the backward pass is more work; HF's model is the same model,
    # and HF resizes the logits with an interpolation kernel where swinseg's loss multiplies by resize matrices
    assert train["swinseg_checkpointing"]["gflop"] > train["swinseg"]["gflop"]
    assert train["huggingface"]["loss_gflop"] == 0 < train["swinseg"]["loss_gflop"]
    model_gflop = train["swinseg"]["gflop"] - train["swinseg"]["loss_gflop"]
    assert train["huggingface"]["gflop"] == pytest.approx(model_gflop, rel=0.05)
    slides = [r for r in records if r.get("target") == 4 and r.get("mode", "").startswith("slide")]
    assert slides and all(r["size"] == [128, 128] and r["windows"] == 9 for r in slides)
    assert all(r["labels_shape"] == [1, 128, 128] and positive(r["rss_growth_mb"]) for r in slides)
    whole = [r for r in records if r.get("target") == 4 and r.get("mode") == "whole"]
    assert [r["size"] for r in whole] == [[64, 64], [128, 128]] and all(positive(r["s_per_mp"]) for r in whole)
    predict = [r for r in records if r.get("target") == 5 and "impl" in r]
    assert all(r["images"] == 2 and positive(r["img_per_s"]) and r["interleaved"] for r in predict)


def test_ratios_and_summary(quick_run):
    records, _ = quick_run
    ratios = [r for r in records if r.get("kind") == "ratio"]
    assert sorted(r["target"] for r in ratios) == [1, 2, 3, 4, 5, 5, 7, 8]  # 5: predict and eval
    for r in ratios:
        values = [v for k, v in r.items() if k.endswith("ratio")]
        assert values and all(positive(v) for v in values), r
    assert records[-1]["kind"] == "summary"
    summary = records[-1]["targets"]
    assert [(s["target"], s["name"]) for s in summary] == sorted(NAMES.items())
    for s in summary:
        assert positive(s["measured"]) and positive(s["goal"]) and isinstance(s["met"], bool), s
        assert "error" not in s and positive(s["wall_s"])
    by_target = {s["target"]: s for s in summary}
    assert positive(by_target[3]["memory_ratio"]) and positive(by_target[3]["checkpointing_memory_ratio"])
    assert positive(by_target[5]["evaluate_images"])
    assert 0 < by_target[2]["fraction_of_limit"] < 1.5
    backends = by_target[6]
    assert set(backends["speedups"]) == {"eager", "bf16", "int8", "onnxruntime"}
    assert backends["measured"] == min(backends["speedups"][backends["fastest"]].values())


def test_refuses_to_overwrite_out(tmp_path):
    script = load_script()
    out = tmp_path / "results.jsonl"
    out.write_text("old\n")
    with pytest.raises(SystemExit):
        script.parse_args(["--quick", "--out", str(out)])
    assert script.parse_args(["--quick", "--out", str(out), "--overwrite"]).overwrite
    assert out.read_text() == "old\n"


def test_a_missing_peer_is_reported_and_the_run_goes_on(monkeypatch):
    script = load_script()

    def unavailable(config):
        raise script.PeerUnavailable("transformers is not installed")

    monkeypatch.setattr(script, "build_huggingface", unavailable)
    args = argparse.Namespace(warmup=0, runs=1)
    records: list[dict] = []
    result = script.inference_vs_peer(1, script.load_config("upernet", True), "huggingface", (32, 32), args, 100.0,
                                      lambda r: records.append(r) or r)  # fmt: skip
    assert result["measured"] is None and result["met"] is False and "not installed" in result["skipped"]
    assert [r.get("impl") for r in records] == ["swinseg", "huggingface", None]
    assert records[1]["skipped"] == "transformers is not installed" and positive(records[0]["seconds"])
