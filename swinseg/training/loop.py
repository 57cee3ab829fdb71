"""Iteration-based training, the paper's recipe by default (see :class:`~swinseg.training.config.TrainConfig`).

``train(cfg)`` runs in one process, or in each of the processes ``torchrun`` starts (DistributedDataParallel,
synchronised BatchNorm, rank 0 logs and writes checkpoints). In ``cfg.work_dir`` it writes::

    config.yaml      the resolved config
    last.pt          the full training state every ``checkpoint_every`` iterations (resume reads it)
    best.safetensors the model with the best validation mIoU so far (a swinseg checkpoint: ``load_checkpoint``)
    metrics.jsonl    one JSON object per logged step / evaluation
    tb/              TensorBoard events, when tensorboard is installed

A run whose ``last.pt`` exists continues from it, exactly: the weights after N iterations are the same
bit for bit whether or not the run was killed and resumed in between.

The run is a few named steps: :func:`_set_up` (model, optimizer, schedule, data, loss), :func:`_resume`,
then per iteration :func:`_optimizer_step`, :func:`_log_step`, :func:`_evaluate_and_keep_best` and
:func:`_save_state`.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from swinseg.checkpoints.loading import load_model
from swinseg.checkpoints.saving import save_checkpoint
from swinseg.checkpoints.training_state import (
    load_training_state,
    restore_rng_state,
    rng_state,
    save_training_state,
)
from swinseg.core.atomic_write import atomic_write
from swinseg.core.processes import DistInfo, cpu_has_native_bf16, distributed
from swinseg.core.progress import Progress
from swinseg.core.progress import progress as progress_bar
from swinseg.core.stopping import Stopped, StopSignals, ignore_signals, signal_number
from swinseg.data.config import build_dataset
from swinseg.data.datasets import SegmentationDataset
from swinseg.evaluation.evaluate import evaluate
from swinseg.models.segmentor import SwinsegModel, build_model
from swinseg.training.config import TrainConfig
from swinseg.training.distributed import StreamSampler, convert_sync_batchnorm
from swinseg.training.losses import build_loss
from swinseg.training.optim import build_optimizer, lr_factor

__all__ = ["TrainResult", "TrainingDiverged", "TrainingStopped", "train"]


class TrainingDiverged(RuntimeError):
    """The loss or the gradients stayed non-finite for ``max_nonfinite`` steps in a row."""


class TrainingStopped(Stopped):
    """A stop signal arrived: the step in progress was finished and ``last.pt`` written at ``iteration``."""

    def __init__(self, signum: int, iteration: int, checkpoint: Path):
        super().__init__(signum, f"stopped by {StopSignals.name(signum)} at iteration {iteration} "
                                 f"({checkpoint} saved); run the same command to resume")  # fmt: skip
        self.iteration = iteration


@dataclass(frozen=True)
class TrainResult:
    """How a run ended: its last iteration, the best validation mIoU (-1 before any evaluation) and the last
    evaluation's metrics (None when the run had already finished and nothing was evaluated)."""

    iter: int
    best_miou: float
    last_eval: dict | None


def _autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "off":
        return None
    if amp == "fp16" and device.type != "cuda":
        raise ValueError("amp=fp16 needs CUDA; use bf16 or off on CPU")
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


# ----------------------------------------------------------------------------------------------------------
# The run's pieces
# ----------------------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """What a training run holds, built once by :func:`_set_up`."""

    cfg: TrainConfig
    info: DistInfo
    device: torch.device
    model: SwinsegModel
    net: nn.Module  # the model, inside DistributedDataParallel under torchrun
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    amp_dtype: torch.dtype | None
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    train_set: SegmentationDataset
    val_set: SegmentationDataset
    micro_batch: int

    @property
    def checkpoint_path(self) -> Path:
        return Path(self.cfg.work_dir) / "last.pt"


@dataclass
class _Position:
    """Where the run is: the next iteration, the best mIoU so far and the current run of non-finite steps."""

    iteration: int = 0
    best_miou: float = -1.0
    nonfinite_run: int = 0


@dataclass(frozen=True)
class _Step:
    loss: torch.Tensor
    grad_norm: torch.Tensor
    finite: bool


def _set_up(cfg: TrainConfig, info: DistInfo, device: torch.device, progress: bool) -> _Run:
    """Model, optimizer, schedule (same initial weights on every process), data and loss."""
    per_step = info.world_size * cfg.accum_steps
    if cfg.data.batch_size % per_step:
        raise ValueError(f"batch_size {cfg.data.batch_size} is not divisible by world_size x accum_steps = {per_step}")
    torch.manual_seed(cfg.seed)
    model = load_model(cfg.pretrained, cfg.model) if cfg.pretrained else build_model(cfg.model)
    if cfg.grad_checkpointing:  # encoder and decode head (the encoder config's own switch: the encoder only)
        model.set_grad_checkpointing(True)
    if info.enabled:
        model = convert_sync_batchnorm(model, device)
    model.to(device).train()
    optimizer = build_optimizer(model, cfg.optim)
    amp_dtype = _autocast_dtype(cfg.amp, device)
    train_set = build_dataset(cfg.data, train=True, progress=progress and info.is_main)
    val_set = build_dataset(cfg.data, train=False, progress=progress and info.is_main)
    if train_set.num_classes != cfg.model.num_classes:
        raise ValueError(f"{train_set.name} has {train_set.num_classes} classes, the model {cfg.model.num_classes}")
    return _Run(
        cfg=cfg,
        info=info,
        device=device,
        model=model,
        net=DistributedDataParallel(model) if info.enabled else model,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg.optim, cfg.max_iters)),
        scaler=torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None,
        amp_dtype=amp_dtype,
        loss_fn=build_loss(cfg, cfg.data.ignore_index),
        train_set=train_set,
        val_set=val_set,
        micro_batch=cfg.data.batch_size // per_step,
    )


def _resume(run: _Run, resume_from: str | Path | None) -> _Position:
    """Load ``last.pt`` (or ``resume_from``) into the run when there is one; where the run then stands."""
    resume_path = Path(resume_from) if resume_from is not None else run.checkpoint_path
    if resume_from is not None and not resume_path.is_file():
        raise ValueError(f"{resume_path}: no such training checkpoint to resume from")
    if not resume_path.exists():
        return _Position()
    state = load_training_state(resume_path)
    saved = TrainConfig.from_dict(json.loads(state["config"])).to_dict()  # fields added since: their defaults
    if json.loads(json.dumps(saved)) != json.loads(json.dumps(run.cfg.to_dict())):
        raise ValueError(f"{resume_path}: was written with another config; use a new work_dir")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.scaler is not None:
        run.scaler.load_state_dict(state["scaler"])
    if len(state["rng"]) != run.info.world_size:
        raise ValueError(f"{resume_path}: saved by {len(state['rng'])} processes, resumed by {run.info.world_size}")
    restore_rng_state(state["rng"][run.info.rank])
    return _Position(state["iteration"], state["best_mIoU"], state["nonfinite_run"])


def _batches(run: _Run, start_iter: int) -> Iterator[dict]:
    """The training batches from ``start_iter`` on: the data order is a function of the position only."""
    cfg = run.cfg
    sampler = StreamSampler(len(run.train_set), run.micro_batch, cfg.seed, run.info,
                            start=start_iter * cfg.data.batch_size)  # fmt: skip
    loader = torch.utils.data.DataLoader(
        run.train_set,
        batch_size=run.micro_batch,
        sampler=sampler,
        num_workers=cfg.data.num_workers,
        pin_memory=run.device.type == "cuda",
        generator=torch.Generator(),  # keeps the loader from drawing on the global RNG (exact resume)
        worker_init_fn=partial(ignore_signals, [signal_number(s) for s in cfg.stop_signals]),  # the main's to handle
        persistent_workers=cfg.data.num_workers > 0,
    )
    return iter(loader)


def _optimizer_step(run: _Run, batches: Iterator[dict], params: list[nn.Parameter]) -> _Step:
    """One optimizer step over ``accum_steps`` micro-batches, skipped (the same on every process) when the loss
    or the gradients are not finite; the schedule advances either way (it stays tied to the data)."""
    cfg, info = run.cfg, run.info
    run.optimizer.zero_grad(set_to_none=True)
    step_loss = torch.zeros((), device=run.device)
    for micro in range(cfg.accum_steps):
        batch = next(batches)
        images = batch["image"].to(run.device, non_blocking=True)
        labels = batch["mask"].to(run.device, non_blocking=True)
        sync = micro == cfg.accum_steps - 1 or not info.enabled
        with (contextlib.nullcontext() if sync else run.net.no_sync()):
            with torch.autocast(run.device.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
                out = run.net(images)
            if isinstance(out, tuple):  # (logits, auxiliary logits) in training
                loss = run.loss_fn(out[0], labels) + cfg.model.aux_loss_weight * run.loss_fn(out[1], labels)
            else:
                loss = run.loss_fn(out, labels)
            loss = loss / cfg.accum_steps
            (run.scaler.scale(loss) if run.scaler is not None else loss).backward()
        step_loss += loss.detach()
    if run.scaler is not None:
        run.scaler.unscale_(run.optimizer)
    max_norm = cfg.optim.clip_grad_norm if cfg.optim.clip_grad_norm is not None else math.inf
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)  # grads are already all-reduced
    step_loss = _all_reduce_mean(step_loss, info)
    finite = bool(torch.isfinite(step_loss) and torch.isfinite(grad_norm))
    if run.scaler is not None:
        run.scaler.step(run.optimizer)  # skips by itself on inf / nan gradients
        run.scaler.update()
    elif finite:
        run.optimizer.step()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step()` before", UserWarning)
        run.scheduler.step()
    return _Step(step_loss, grad_norm, finite)


def _evaluate_and_keep_best(run: _Run, position: _Position, done: int, progress: bool) -> dict:
    """Validation metrics at iteration ``done``; a new best mIoU writes ``best.safetensors`` (rank 0)."""
    cfg = run.cfg
    run.model.eval()
    results = evaluate(run.model, run.val_set, cfg.inference.resolve(cfg.data.crop_size), info=run.info,
                       progress=progress)  # fmt: skip
    if run.info.is_main and results["mIoU"] > position.best_miou:
        position.best_miou = results["mIoU"]
        save_checkpoint(run.model, Path(cfg.work_dir) / "best.safetensors", overwrite=True,
                        classes=run.val_set.classes, run_config=cfg.to_dict(),
                        inference=cfg.inference.resolve(cfg.data.crop_size))  # fmt: skip
    run.model.train()
    return results


def _save_state(run: _Run, position: _Position, done: int) -> None:
    """``last.pt``: everything :func:`_resume` needs to continue exactly at iteration ``done`` (rank 0 writes)."""
    rng = _gather_rng(run.info)
    if not run.info.is_main:
        return
    state = {
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler is not None else {},
        "iteration": done,
        "samples_seen": done * run.cfg.data.batch_size,
        "rng": rng,
        "best_mIoU": position.best_miou,
        "nonfinite_run": position.nonfinite_run,
        "config": json.dumps(run.cfg.to_dict()),
    }
    save_training_state(run.checkpoint_path, state)


# ----------------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------------


class _RunLog:
    """metrics.jsonl (+ TensorBoard) on rank 0. On resume, records after the checkpoint's iteration (written by
    the interrupted run and about to be redone) are dropped."""

    def __init__(self, work_dir: Path, resume_iter: int, enabled: bool):
        self.enabled = enabled
        self.path = work_dir / "metrics.jsonl"
        self.tb = None
        if not enabled:
            return
        if self.path.exists():
            kept = [line for line in self.path.read_text().splitlines() if json.loads(line)["iter"] <= resume_iter]
            atomic_write(self.path, lambda tmp: Path(tmp).write_text("".join(f"{k}\n" for k in kept)), overwrite=True)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(work_dir / "tb"), purge_step=resume_iter + 1)
        except ImportError:  # tensorboard is optional
            pass

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "iter" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, record["iter"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if info.enabled:
        value = value.clone()
        dist.all_reduce(value)
        value /= info.world_size
    return value


def _gather_rng(info: DistInfo) -> list[dict]:
    if not info.enabled:
        return [rng_state()]
    states: list[dict | None] = [None] * info.world_size
    dist.all_gather_object(states, rng_state())
    return states


def train(cfg: TrainConfig, progress: bool = True, resume_from: str | Path | None = None) -> TrainResult:
    """Train (or resume) the run in ``cfg.work_dir``.

    The run resumes from ``work_dir/last.pt`` when it exists, or from ``resume_from`` (a ``last.pt`` written by
    the same config) when given; either way the config must be the one the checkpoint was written with. One of
    ``cfg.stop_signals`` (on any rank) stops every rank after the same step, with ``last.pt`` saved there:
    :class:`TrainingStopped`. Under ``torchrun`` the process group is joined here and left at the end.
    """
    with distributed(cfg.device) as (info, device):
        return _train(_set_up(cfg, info, device, progress), resume_from, progress)


def _train(run: _Run, resume_from: str | Path | None, progress: bool) -> TrainResult:
    cfg = run.cfg
    position = _resume(run, resume_from)
    work_dir = Path(cfg.work_dir)
    if run.info.is_main:  # (again on resume: same config, and resume_from may point outside work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(work_dir / "config.yaml", lambda t: Path(t).write_text(yaml.safe_dump(cfg.to_dict())), True)
    log = _RunLog(work_dir, position.iteration, run.info.is_main)
    bar = progress_bar(total=cfg.max_iters, initial=position.iteration, desc="train",
                       disable=not (progress and run.info.is_main))  # fmt: skip
    try:
        with StopSignals(cfg.stop_signals) as stop:
            last_eval = _run_steps(run, position, log, bar, stop, progress)
    finally:
        bar.close()
        log.close()
    return TrainResult(cfg.max_iters, position.best_miou, last_eval)


def _run_steps(run: _Run, position: _Position, log: _RunLog, bar: Progress, stop: StopSignals,
               progress: bool) -> dict | None:  # fmt: skip
    """The iterations from ``position`` to ``max_iters``: step, log, evaluate, checkpoint, and stop when asked."""
    cfg = run.cfg
    batches = _batches(run, position.iteration)
    params = [p for p in run.model.parameters() if p.requires_grad]
    clock = _Clock(position.iteration)
    last_eval = None
    for it in range(position.iteration, cfg.max_iters):
        step = _optimizer_step(run, batches, params)
        done = it + 1
        position.iteration = done
        position.nonfinite_run = 0 if step.finite else position.nonfinite_run + 1
        if position.nonfinite_run >= cfg.max_nonfinite:
            raise TrainingDiverged(
                f"iteration {done}: loss or gradients non-finite for {position.nonfinite_run} steps in a row; "
                f"lower optim.lr, set optim.clip_grad_norm or amp=off (last good checkpoint: {run.checkpoint_path})"
            )
        lr = run.optimizer.param_groups[0]["lr"]
        bar.update(1)
        bar.set_postfix(loss=f"{step.loss.item():.4f}", lr=f"{lr:.2e}", refresh=False)
        finished = done == cfg.max_iters
        if done % cfg.log_every == 0 or finished:
            log.write({"iter": done, "loss": step.loss.item(), "lr": lr, "grad_norm": step.grad_norm.item(),
                       "skipped": not step.finite, **clock.lap(done)})  # fmt: skip
        if done % cfg.eval_every == 0 or finished:
            last_eval = _evaluate_and_keep_best(run, position, done, progress)
            summary = {k: v for k, v in last_eval.items() if k != "per_class"}
            log.write({"iter": done, **summary, "elapsed_s": clock.elapsed()})
        signum = None if finished else stop.agreed(run.info.enabled, run.device)
        if done % cfg.checkpoint_every == 0 or finished or signum:
            _save_state(run, position, done)
        if signum:
            raise TrainingStopped(signum, done, run.checkpoint_path)
    return last_eval


class _Clock:
    """Iterations per second between log lines, and the seconds since the run (re)started."""

    def __init__(self, iteration: int):
        self.start = self.last = time.perf_counter()
        self.last_iter = iteration

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def lap(self, iteration: int) -> dict:
        now = time.perf_counter()
        fields = {"it_per_s": (iteration - self.last_iter) / (now - self.last), "elapsed_s": now - self.start}
        self.last, self.last_iter = now, iteration
        return fields
