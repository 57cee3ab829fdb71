"""The training loop: run files and logs, bit-identical resume after SIGKILL, config checks on resume, non-finite
steps, gradient accumulation and torchrun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from swinseg.checkpoints.loading import load_model
from swinseg.checkpoints.training_state import load_training_state
from swinseg.models.segmentor import build_model
from swinseg.training.config import TrainConfig, load_train_config
from swinseg.training.loop import TrainingDiverged, train
from tests.blocks import tiny_config

REPO = Path(__file__).resolve().parents[2]


def test_train_writes_run_files_and_logs(blocks_dataset, tmp_path):
    cfg = tiny_config(blocks_dataset, tmp_path / "run", eval_every=4)
    result = train(cfg, progress=False)
    run = tmp_path / "run"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in records if "loss" in r] == [1, 2, 3, 4]
    assert [r["lr"] for r in records if "lr" in r][:2] == pytest.approx([1e-3 * (1e-6 + (1 - 1e-6) / 2), 1e-3])
    assert records[-1]["mIoU"] == pytest.approx(result.best_miou)
    assert load_train_config(run / "config.yaml") == cfg
    state = load_training_state(run / "last.pt")
    assert state["iteration"] == 4 and state["samples_seen"] == 16
    best = load_model(run / "best.safetensors")
    assert torch.equal(best.state_dict()["decode_head.conv_seg.weight"], state["model"]["decode_head.conv_seg.weight"])


SCRIPT = """
import json, sys, torch
from swinseg.training.config import TrainConfig
from swinseg.training.loop import train
torch.set_num_threads(1)
train(TrainConfig.from_dict(json.loads(sys.argv[1])), progress=False)
"""


def _run_script(cfg: TrainConfig, tmp_path: Path) -> list[str]:
    """The arguments of a script that runs ``train(cfg)`` in a fresh process (without the interpreter)."""
    script = tmp_path / "run_train.py"
    script.write_text(SCRIPT)
    return [str(script), json.dumps(cfg.to_dict())]


def test_resume_after_sigkill_is_bit_identical(blocks_dataset, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    straight = tiny_config(blocks_dataset, tmp_path / "straight", max_iters=8, checkpoint_every=2, eval_every=4)
    subprocess.run([sys.executable, *_run_script(straight, tmp_path)], check=True, env=env)

    killed = tiny_config(blocks_dataset, tmp_path / "killed", max_iters=8, checkpoint_every=2, eval_every=4)
    proc = subprocess.Popen([sys.executable, *_run_script(killed, tmp_path)], env=env)
    checkpoint = tmp_path / "killed" / "last.pt"
    while not checkpoint.exists() and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted_at = load_training_state(checkpoint)["iteration"]
    assert proc.returncode == -signal.SIGKILL and interrupted_at < 8
    subprocess.run([sys.executable, *_run_script(killed, tmp_path)], check=True, env=env)  # resumes from last.pt

    a, b = load_training_state(tmp_path / "straight/last.pt"), load_training_state(checkpoint)
    assert a["iteration"] == b["iteration"] == 8
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(pa["exp_avg_sq"], pb["exp_avg_sq"])
    logged = [json.loads(x)["iter"] for x in (tmp_path / "killed/metrics.jsonl").read_text().splitlines()]
    assert logged == [json.loads(x)["iter"] for x in (tmp_path / "straight/metrics.jsonl").read_text().splitlines()]


def test_resume_refuses_another_config(blocks_dataset, tmp_path):
    train(tiny_config(blocks_dataset, tmp_path / "run", max_iters=2), progress=False)
    with pytest.raises(ValueError, match="another config"):
        train(tiny_config(blocks_dataset, tmp_path / "run", max_iters=2, optim__lr=1e-2), progress=False)


def test_non_finite_steps_are_skipped_then_the_run_stops(blocks_dataset, tmp_path):
    cfg = tiny_config(blocks_dataset, tmp_path / "run", max_iters=10, checkpoint_every=1, max_nonfinite=3,
                      class_weights=[1.0, float("nan"), 1.0, 1.0])  # fmt: skip
    with pytest.raises(TrainingDiverged, match="non-finite for 3 steps"):
        train(cfg, progress=False)
    torch.manual_seed(cfg.seed)
    initial = build_model(cfg.model).state_dict()
    state = load_training_state(tmp_path / "run/last.pt")
    assert state["iteration"] == 2 and state["nonfinite_run"] == 2
    for name, tensor in state["model"].items():
        if not name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert torch.equal(tensor, initial[name]), name  # skipped steps never touched the weights


def test_gradient_accumulation_matches_the_full_batch(blocks_dataset, tmp_path):
    # Swin-Unet has no BatchNorm, so two micro-batches of 2 must give the gradient of one batch of 4. A large
    # Adam eps makes the update proportional to the gradient (with 1e-8, g / |g| turns rounding noise in
    # near-zero gradients into lr-sized steps).
    full = tiny_config(blocks_dataset, tmp_path / "full", decoder="swin_unet", max_iters=2, optim__eps=1.0)
    accum = tiny_config(blocks_dataset, tmp_path / "accum", decoder="swin_unet", max_iters=2, accum_steps=2,
                        optim__eps=1.0)  # fmt: skip
    full.model.encoder = accum.model.encoder = full.model.encoder.__class__(
        **{**full.model.encoder.to_dict(), "drop_path_rate": 0.0}
    )
    train(full, progress=False)
    train(accum, progress=False)
    a = load_training_state(tmp_path / "full/last.pt")["model"]
    b = load_training_state(tmp_path / "accum/last.pt")["model"]
    assert max((a[k] - b[k]).abs().max().item() for k in a if a[k].is_floating_point()) < 1e-8


def test_torchrun_two_processes_match_one_process(blocks_dataset, tmp_path):
    """2 gloo processes x 2 images (SyncBatchNorm on CPU) == 1 process x 4 images (Adam eps: see above)."""
    single = tiny_config(blocks_dataset, tmp_path / "single", max_iters=3, checkpoint_every=3, optim__eps=1.0)
    single.model.encoder = single.model.encoder.__class__(**{**single.model.encoder.to_dict(), "drop_path_rate": 0.0})
    double = TrainConfig.from_dict({**single.to_dict(), "work_dir": str(tmp_path / "double")})
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # --standalone: a rendezvous on a free local port (a fixed port can still be held by an earlier run)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    for command in ([sys.executable, *_run_script(single, tmp_path)], [*launcher, *_run_script(double, tmp_path)]):
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"exit status {done.returncode}:\n{done.stderr[-4000:]}"  # why, in CI's log
    a = load_training_state(tmp_path / "single/last.pt")
    b = load_training_state(tmp_path / "double/last.pt")
    assert len(b["rng"]) == 2
    assert b["best_mIoU"] == pytest.approx(a["best_mIoU"], abs=1e-6)  # each process scored 1 of the 2 val images
    diffs = {k: (a["model"][k] - b["model"][k]).abs().max().item() for k in a["model"] if a["model"][k].is_floating_point()}
    assert max(diffs.values()) < 1e-6, max(diffs, key=diffs.get)  # running_var ~1 carries float32 rounding
