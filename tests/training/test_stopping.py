"""Preemption: a stop signal finishes the step in progress, saves last.pt there and exits 128 + the signal's
number; the same command resumes bit-identically (one process and torchrun); a second signal exits at once;
predict and eval stop after the work in progress. All through the real CLI, in fresh processes."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml

from swinseg.checkpoints.training_state import load_training_state
from tests.blocks import tiny_config

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
MAX_ITERS = 10


def _config_file(blocks_dataset: Path, tmp_path: Path) -> Path:
    """A tiny run whose only periodic checkpoint is the last iteration: anything else in last.pt is the stop's."""
    cfg = tiny_config(blocks_dataset, tmp_path / "unused", max_iters=MAX_ITERS, checkpoint_every=1000,
                      eval_every=5, log_every=1, data__num_workers=1)  # fmt: skip
    cfg.model.encoder = cfg.model.encoder.__class__(**{**cfg.model.encoder.to_dict(), "drop_path_rate": 0.0})
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    return path


def _train(config: Path, work_dir: Path, launcher: list[str] | None = None) -> subprocess.Popen:
    command = [*(launcher or [sys.executable]), "-m", "swinseg", "train", str(config), "--work-dir", str(work_dir),
               "--quiet"]  # fmt: skip
    return subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _logged_iterations(work_dir: Path) -> int:
    path = work_dir / "metrics.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if '"loss"' in line)


def _wait_for_iteration(proc: subprocess.Popen, work_dir: Path, iteration: int) -> None:
    while _logged_iterations(work_dir) < iteration:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)


def _same_weights(a: Path, b: Path) -> None:
    sa, sb = load_training_state(a), load_training_state(b)
    assert sa["iteration"] == sb["iteration"] == MAX_ITERS
    for name, tensor in sa["model"].items():
        assert torch.equal(tensor, sb["model"][name]), name
    for pa, pb in zip(sa["optimizer"]["state"].values(), sb["optimizer"]["state"].values()):
        assert torch.equal(pa["exp_avg"], pb["exp_avg"])


def test_sigterm_saves_the_step_in_progress_and_the_same_command_resumes_bit_identically(blocks_dataset, tmp_path):
    config = _config_file(blocks_dataset, tmp_path)
    straight = _train(config, tmp_path / "straight")
    assert straight.wait() == 0, straight.communicate()

    at = random.Random(os.getpid()).randint(2, MAX_ITERS - 3)  # a random iteration, reported if the test fails
    proc = _train(config, tmp_path / "stopped")
    _wait_for_iteration(proc, tmp_path / "stopped", at)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM == 143, err
    line = err.strip().splitlines()[-1]
    match = re.fullmatch(r"swinseg train: stopped by SIGTERM at iteration (\d+) \((.+last\.pt) saved\); "
                         r"run the same command to resume", line)  # fmt: skip
    assert match, line
    stopped_at = int(match[1])
    assert at <= stopped_at <= at + 2 < MAX_ITERS, (at, stopped_at)  # the step in progress when it arrived
    assert load_training_state(tmp_path / "stopped/last.pt")["iteration"] == stopped_at

    resumed = _train(config, tmp_path / "stopped")
    assert resumed.wait() == 0, resumed.communicate()
    _same_weights(tmp_path / "straight/last.pt", tmp_path / "stopped/last.pt")
    logged = [json.loads(x)["iter"] for x in (tmp_path / "stopped/metrics.jsonl").read_text().splitlines()]
    assert logged == [json.loads(x)["iter"] for x in (tmp_path / "straight/metrics.jsonl").read_text().splitlines()]


def test_a_second_signal_exits_at_once_without_writing(blocks_dataset, tmp_path):
    config = _config_file(blocks_dataset, tmp_path)
    proc = _train(config, tmp_path / "run")
    _wait_for_iteration(proc, tmp_path / "run", 2)
    proc.send_signal(signal.SIGUSR1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (128 + signal.SIGUSR1, 128 + signal.SIGINT), err  # 128 + the one handled second
    assert "stopped by" not in err and not (tmp_path / "run/last.pt").exists()


def test_torchrun_a_signal_on_one_rank_stops_both_at_the_same_iteration(blocks_dataset, tmp_path):
    config = _config_file(blocks_dataset, tmp_path)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    straight = _train(config, tmp_path / "straight", launcher)
    assert straight.wait() == 0, straight.communicate()

    proc = _train(config, tmp_path / "stopped", launcher)
    _wait_for_iteration(proc, tmp_path / "stopped", 3)
    ranks = {int(p.environ().get("RANK", -1)): p for p in psutil.Process(proc.pid).children()}
    ranks[1].send_signal(signal.SIGTERM)  # rank 1 only: rank 0 must learn it through the process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    lines = re.findall(r"stopped by SIGTERM at iteration (\d+)", err)
    assert len(lines) == 2 and lines[0] == lines[1], err  # both ranks, the same iteration
    assert load_training_state(tmp_path / "stopped/last.pt")["iteration"] == int(lines[0]) < MAX_ITERS

    resumed = _train(config, tmp_path / "stopped", launcher)
    assert resumed.wait() == 0, resumed.communicate()
    _same_weights(tmp_path / "straight/last.pt", tmp_path / "stopped/last.pt")


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_predict_and_eval_stop_after_the_work_in_progress(blocks_dataset, tmp_path, command):
    from swinseg.training.loop import train

    cfg = tiny_config(blocks_dataset, tmp_path / "model", max_iters=1)
    train(cfg, progress=False)
    images = tmp_path / "images"
    images.mkdir()
    source = next((blocks_dataset / "val" / "img").glob("*.jpg"))
    for i in range(400):
        (images / f"{i:03d}.jpg").write_bytes(source.read_bytes())
    out = tmp_path / "out"
    if command == "predict":
        args = ["predict", str(tmp_path / "model"), str(images), "--out", str(out), "--batch-size", "1"]
    else:  # the same images as an ade20k_layout validation split
        layout = tmp_path / "layout"
        (layout / "images").mkdir(parents=True)
        images.rename(layout / "images" / "validation")
        (layout / "annotations" / "validation").mkdir(parents=True)
        mask = next((blocks_dataset / "val" / "ann").glob("*.png"))
        for i in range(400):
            (layout / "annotations" / "validation" / f"{i:03d}.png").write_bytes(mask.read_bytes())
        (layout / "classes.json").write_text((blocks_dataset / "classes.json").read_text())
        args = ["eval", str(tmp_path / "model"), "--data", str(layout), "--dataset", "ade20k_layout",
                "--out", str(tmp_path / "r.json")]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "swinseg", *args], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    if command == "predict":
        while proc.poll() is None and len(list(out.glob("*.png"))) < 5:
            time.sleep(0.01)
    else:
        time.sleep(4)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if command == "eval" and proc.returncode == 0:
        pytest.skip("the evaluation finished before the signal")
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM after" in err.strip().splitlines()[-1], err
    if command == "predict":
        written = sorted(out.glob("*.png"))
        assert 5 <= len(written) < 400 and not list(out.glob(".*.tmp"))
        rerun = subprocess.run([sys.executable, "-m", "swinseg", *args], env=ENV, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        assert len(list(out.glob("*.png"))) == 400 and f"{len(written)} skipped (exist)" in rerun.stdout
    else:
        assert not (tmp_path / "r.json").exists()
