"""Iteration-based training, the paper's recipe by default (see :class:`~swinseg.engine.config.TrainConfig`).

``train(cfg)`` runs in one process, or in each of the processes ``torchrun`` starts (DistributedDataParallel,
synchronised BatchNorm, rank 0 logs and writes checkpoints). In ``cfg.work_dir`` it writes::

    config.yaml      the resolved config
    last.pt          the full training state every ``checkpoint_every`` iterations (resume reads it)
    best.safetensors the model with the best validation mIoU so far (a swinseg checkpoint: ``load_model``)
    metrics.jsonl    one JSON object per logged step / evaluation
    tb/              TensorBoard events, when tensorboard is installed

A run whose ``last.pt`` exists continues from it, exactly: the weights after N iterations are the same
bit for bit whether or not the run was killed and resumed in between.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from swinseg.data.config import build_dataset
from swinseg.files import atomic_write
from swinseg.engine.checkpoint import load_training_state, restore_rng_state, rng_state, save_training_state
from swinseg.engine.config import OptimConfig, TrainConfig
from swinseg.engine.distributed import DistInfo, StreamSampler, convert_sync_batchnorm, init_distributed
from swinseg.engine.evaluate import evaluate
from swinseg.engine.inference import default_stride
from swinseg.engine.losses import build_loss
from swinseg.models.segmentor import build_model
from swinseg.weights.io import load_model, save_checkpoint

__all__ = ["TrainingDiverged", "build_optimizer", "lr_factor", "train"]

NO_DECAY_KEYS = ("norm", "relative_position_bias_table", "absolute_pos_embed")


class TrainingDiverged(RuntimeError):
    """The loss or the gradients stayed non-finite for ``max_nonfinite`` steps in a row."""


# ----------------------------------------------------------------------------------------------------------
# Recipe pieces: optimizer, schedule (the loss: swinseg.engine.losses)
# ----------------------------------------------------------------------------------------------------------


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW; no weight decay on names containing ``NO_DECAY_KEYS`` (mmseg's Swin ``paramwise_cfg``)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if any(k in name for k in NO_DECAY_KEYS) else decay).append(p)
    groups = [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def lr_factor(cfg: OptimConfig, max_iters: int) -> Callable[[int], float]:
    """Iteration -> multiple of the base lr: linear from ``warmup_start_factor`` to 1 over ``warmup_iters``
    (mmengine ``LinearLR``), then poly decay to ``min_lr`` at ``max_iters`` (``PolyLR(begin=warmup_iters)``)."""
    min_factor = cfg.min_lr / cfg.lr

    def factor(it: int) -> float:
        if it < cfg.warmup_iters:
            return cfg.warmup_start_factor + (1 - cfg.warmup_start_factor) * it / cfg.warmup_iters
        progress = min((it - cfg.warmup_iters) / max(max_iters - cfg.warmup_iters, 1), 1.0)
        return (1 - min_factor) * (1 - progress) ** cfg.poly_power + min_factor

    return factor


def _autocast_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp == "off":
        return None
    if amp == "fp16" and device.type != "cuda":
        raise ValueError("amp=fp16 needs CUDA; use bf16 or off on CPU")
    if amp == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if _cpu_has_native_bf16() else None
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def _cpu_has_native_bf16() -> bool:
    """bf16 autocast only pays on CPUs with bf16 matrix units (AMX / AVX512-BF16); elsewhere it is slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _encoder(model: nn.Module) -> nn.Module:
    return model.backbone if hasattr(model, "backbone") else model.encoder  # swinseg Segmentor / smp model


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


def train(cfg: TrainConfig, progress: bool = True, resume_from: str | Path | None = None) -> dict:
    """Train (or resume) the run in ``cfg.work_dir``; returns ``{"iter", "best_mIoU", "last_eval"}``.

    The run resumes from ``work_dir/last.pt`` when it exists, or from ``resume_from`` (a ``last.pt`` written by
    the same config) when given; either way the config must be the one the checkpoint was written with.
    """
    info, device = init_distributed(cfg.device)
    work_dir = Path(cfg.work_dir)
    global_batch, per_step = cfg.data.batch_size, info.world_size * cfg.accum_steps
    if global_batch % per_step:
        raise ValueError(f"batch_size {global_batch} is not divisible by world_size x accum_steps = {per_step}")
    micro_batch = global_batch // per_step

    # --- model, optimizer, schedule (same initial weights on every process) ---
    torch.manual_seed(cfg.seed)
    model = load_model(cfg.pretrained, cfg.model) if cfg.pretrained else build_model(cfg.model)
    # either switch turns it on: the run's `grad_checkpointing` (encoder and decode head of a Segmentor, the
    # encoder of an smp model) or the encoder config's own (encoder only)
    if cfg.grad_checkpointing:
        (model if hasattr(model, "set_grad_checkpointing") else _encoder(model)).set_grad_checkpointing(True)
    elif cfg.model.encoder.grad_checkpointing:
        _encoder(model).set_grad_checkpointing(True)
    if info.enabled:
        model = convert_sync_batchnorm(model, device)
    model.to(device).train()
    optimizer = build_optimizer(model, cfg.optim)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg.optim, cfg.max_iters))
    amp_dtype = _autocast_dtype(cfg.amp, device)
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    # --- data ---
    train_set = build_dataset(cfg.data, train=True, progress=progress and info.is_main)
    val_set = build_dataset(cfg.data, train=False, progress=progress and info.is_main)
    if train_set.num_classes != cfg.model.num_classes:
        raise ValueError(f"{train_set.name} has {train_set.num_classes} classes, the model {cfg.model.num_classes}")
    loss_fn = build_loss(cfg, cfg.data.ignore_index)

    # --- resume ---
    start_iter, best_miou, nonfinite_run, last_eval = 0, -1.0, 0, None
    checkpoint_path = work_dir / "last.pt"
    resume_path = Path(resume_from) if resume_from is not None else checkpoint_path
    if resume_from is not None and not resume_path.is_file():
        raise ValueError(f"{resume_path}: no such training checkpoint to resume from")
    if resume_path.exists():
        state = load_training_state(resume_path)
        saved_cfg = json.loads(state["config"])
        if saved_cfg != json.loads(json.dumps(cfg.to_dict())):
            raise ValueError(f"{resume_path}: was written with another config; use a new work_dir")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if scaler is not None:
            scaler.load_state_dict(state["scaler"])
        start_iter, best_miou, nonfinite_run = state["iteration"], state["best_mIoU"], state["nonfinite_run"]
        if len(state["rng"]) != info.world_size:
            raise ValueError(f"{resume_path}: saved by {len(state['rng'])} processes, resumed by {info.world_size}")
        restore_rng_state(state["rng"][info.rank])
        del state
    if info.is_main:  # (again on resume: same config, and resume_from may point outside work_dir)
        work_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(work_dir / "config.yaml", lambda t: Path(t).write_text(yaml.safe_dump(cfg.to_dict())), True)

    net = DistributedDataParallel(model) if info.enabled else model
    sampler = StreamSampler(len(train_set), micro_batch, cfg.seed, info, start=start_iter * global_batch)
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_size=micro_batch,
        sampler=sampler,
        num_workers=cfg.data.num_workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator(),  # keeps the loader from drawing on the global RNG (exact resume)
        persistent_workers=cfg.data.num_workers > 0,
    )
    batches = iter(loader)
    log = _RunLog(work_dir, start_iter, info.is_main)
    bar = tqdm(total=cfg.max_iters, initial=start_iter, desc="train", disable=not (progress and info.is_main))
    params = [p for p in model.parameters() if p.requires_grad]
    t_start = t_last = time.perf_counter()
    it_last = start_iter

    for it in range(start_iter, cfg.max_iters):
        # --- one optimizer step over accum_steps micro-batches ---
        optimizer.zero_grad(set_to_none=True)
        step_loss = torch.zeros((), device=device)
        for micro in range(cfg.accum_steps):
            batch = next(batches)
            images = batch["image"].to(device, non_blocking=True)
            labels = batch["mask"].to(device, non_blocking=True)
            sync = micro == cfg.accum_steps - 1 or not info.enabled
            with (contextlib.nullcontext() if sync else net.no_sync()):
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    out = net(images)
                if isinstance(out, tuple):  # (logits, auxiliary logits) in training
                    loss = loss_fn(out[0], labels) + cfg.model.aux_loss_weight * loss_fn(out[1], labels)
                else:
                    loss = loss_fn(out, labels)
                loss = loss / cfg.accum_steps
                (scaler.scale(loss) if scaler is not None else loss).backward()
            step_loss += loss.detach()

        # --- skip the update if anything is non-finite (same decision on every process) ---
        if scaler is not None:
            scaler.unscale_(optimizer)
        max_norm = cfg.optim.clip_grad_norm if cfg.optim.clip_grad_norm is not None else math.inf
        grad_norm = torch.nn.utils.clip_grad_norm_(params, max_norm)  # grads are already all-reduced
        step_loss = _all_reduce_mean(step_loss, info)
        finite = bool(torch.isfinite(step_loss) and torch.isfinite(grad_norm))
        if scaler is not None:
            scaler.step(optimizer)  # skips by itself on inf / nan gradients
            scaler.update()
        elif finite:
            optimizer.step()
        nonfinite_run = 0 if finite else nonfinite_run + 1
        with warnings.catch_warnings():  # a skipped step still advances the schedule (it stays tied to the data)
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler.step()` before", UserWarning)
            scheduler.step()
        done = it + 1
        if nonfinite_run >= cfg.max_nonfinite:
            raise TrainingDiverged(
                f"iteration {done}: loss or gradients non-finite for {nonfinite_run} steps in a row; "
                f"lower optim.lr, set optim.clip_grad_norm or amp=off (last good checkpoint: {checkpoint_path})"
            )

        # --- log, evaluate, checkpoint ---
        lr = optimizer.param_groups[0]["lr"]
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss.item():.4f}", lr=f"{lr:.2e}", refresh=False)
        if done % cfg.log_every == 0 or done == cfg.max_iters:
            now = time.perf_counter()
            log.write(
                {
                    "iter": done,
                    "loss": step_loss.item(),
                    "lr": lr,
                    "grad_norm": grad_norm.item(),
                    "skipped": not finite,
                    "it_per_s": (done - it_last) / (now - t_last),
                    "elapsed_s": now - t_start,
                }
            )
            t_last, it_last = now, done
        if done % cfg.eval_every == 0 or done == cfg.max_iters:
            last_eval = _evaluate(cfg, model, val_set, device, info, progress)
            summary = {k: v for k, v in last_eval.items() if k != "per_class"}
            log.write({"iter": done, **summary, "elapsed_s": time.perf_counter() - t_start})
            if info.is_main and last_eval["mIoU"] > best_miou:
                best_miou = last_eval["mIoU"]
                save_checkpoint(
                    model,
                    work_dir / "best.safetensors",
                    overwrite=True,
                    classes=val_set.classes,
                    run_config=cfg.to_dict(),
                )
            model.train()
        if done % cfg.checkpoint_every == 0 or done == cfg.max_iters:
            rng = _gather_rng(info)
            if info.is_main:
                state = {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else {},
                    "iteration": done,
                    "samples_seen": done * global_batch,
                    "rng": rng,
                    "best_mIoU": best_miou,
                    "nonfinite_run": nonfinite_run,
                    "config": json.dumps(cfg.to_dict()),
                }
                save_training_state(checkpoint_path, state)
    bar.close()
    log.close()
    return {"iter": cfg.max_iters, "best_mIoU": best_miou, "last_eval": last_eval}


def _evaluate(cfg: TrainConfig, model: nn.Module, val_set, device: torch.device, info: DistInfo, progress: bool) -> dict:
    crop = cfg.data.crop_size
    model.eval()
    return evaluate(
        model, val_set, mode=cfg.eval_mode, crop_size=crop, stride=default_stride(crop), info=info, progress=progress
    )


