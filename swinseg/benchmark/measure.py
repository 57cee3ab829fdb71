"""Speed, memory, parameters and FLOPs of a segmentation model, and how its cost grows with the image size.

What is measured, and how (``swinseg benchmark`` puts these together; each function works on any module that
maps images (B, 3, H, W) to logits):

* latency: :func:`measure_latency` runs ``warmup`` untimed then ``runs`` timed forward passes on one random
  batch, in eval mode under ``torch.inference_mode()``, timed with ``time.perf_counter`` (after
  ``torch.cuda.synchronize`` on CUDA). It reports the median (p50) and 90th percentile (p90) of the per-batch
  latencies and the throughput ``batch / p50`` (img/s), which a busy machine disturbs less than a mean.
* peak memory, during those passes: on CUDA ``torch.cuda.max_memory_allocated`` (reset before each
  measurement) as ``peak_mem_mb``; on the CPU the peak resident set size of the whole process (Linux's
  ``VmHWM``, reset by writing ``5`` to ``/proc/self/clear_refs``) as ``peak_rss_mb``, which includes Python,
  torch and every model loaded in the process; ``rss_growth_mb`` is how far it rose above the RSS at the start
  of the measurement (activations and workspace of this model). MB = 2**20 bytes.
* FLOPs: :func:`count_flops` counts one forward pass with ``torch.utils.flop_counter.FlopCounterMode``, which
  counts 2 FLOPs per multiply-add of convolutions, matrix products and attention, and nothing for element-wise
  ops, norms, pooling or resizing. The pass runs on a copy of the model on the ``meta`` device (no compute).
* parameters: all of them (``params_m``, millions), and those an inference pass reads
  (``inference_params_m``; a training-only auxiliary head is not among them).
* scaling: :func:`scaling_summary` of batch-1 passes at several sizes; seconds per megapixel at each, and the
  exponent ``k`` of ``seconds ~ pixels**k`` fitted by least squares in log-log (:func:`fit_scaling_exponent`).
  Swin's windowed attention makes the encoder linear in the number of pixels (k = 1, the paper's claim); the
  UPerNet head's convolutions are linear in pixels too, so the whole model should be close to 1 once fixed
  overheads are small against the work (see ``local_exponents`` between neighbouring sizes).
"""

from __future__ import annotations

import copy
import ctypes
import gc
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.flop_counter import FlopCounterMode

from swinseg.core.memory import HUGE_PAGES_ENV
from swinseg.core.processes import cpu_flags

__all__ = [
    "MemoryProbe",
    "as_hw",
    "count_flops",
    "count_params",
    "fit_scaling_exponent",
    "host_info",
    "huge_pages",
    "interleaved_ratio",
    "interleaved_seconds",
    "measure_latency",
    "megapixels",
    "model_memory_mb",
    "profile_forward",
    "scaling_summary",
]

MB = 2**20
FLOPS_NOTE = "GFLOPs per image (batch 1) as torch.utils.flop_counter counts them: 2 per multiply-add"
SCALING_NOTE = (
    "exponent: slope of log(seconds) against log(pixels) at batch 1, 1.0 = cost linear in image size; Swin's "
    "windowed attention is linear in pixels and so are the UPerNet head's convolutions"
)

Size = int | Sequence[int]


def as_hw(size: Size) -> tuple[int, int]:
    """``512`` -> (512, 512); ``(512, 1024)`` -> (512, 1024) as (height, width)."""
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


def megapixels(size: Size) -> float:
    h, w = as_hw(size)
    return h * w / 1e6


# ----------------------------------------------------------------------------------------------------------
# The machine
# ----------------------------------------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


# the CPU features the kernels choose by (virtual machines often name no model), and the variables that cap them
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_int8")
ISA_LIMITS = ("ATEN_CPU_CAPABILITY", "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def huge_pages() -> dict:
    """Whether PyTorch's CPU allocator asks for transparent huge pages (``THP_MEM_ALLOC_ENABLE``, read when
    torch is imported; the ``swinseg`` command sets it) and the kernel's policy for them (``always``, ``madvise``:
    only where asked, ``never``; None where Linux has no such file)."""
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
        kernel = text[text.index("[") + 1 : text.index("]")]
    except (OSError, ValueError):
        kernel = None
    return {HUGE_PAGES_ENV: os.environ.get(HUGE_PAGES_ENV), "kernel": kernel}


def host_info(device: str | torch.device) -> dict:
    """What the numbers depend on: CPU (name, instruction sets, the kernels' ISA and any variable capping it),
    GPU, versions, threads."""
    device = torch.device(device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "cpu": cpu_model(),
        "cpu_flags": [flag for flag in CPU_FLAGS if flag in cpu_flags()],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "isa_limits": {name: os.environ[name] for name in ISA_LIMITS if name in os.environ},
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "huge_pages": huge_pages(),
        "device": str(device),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "memory": "peak_mem_mb: torch.cuda.max_memory_allocated during the measurement, weights included"
        if device.type == "cuda"
        else "peak_rss_mb: peak resident set size of the whole process (Python, torch, all loaded models); "
        "rss_growth_mb: its rise during the measurement",
        "flops": FLOPS_NOTE,
    }


# ----------------------------------------------------------------------------------------------------------
# Memory
# ----------------------------------------------------------------------------------------------------------


def _status_kb(field: str) -> float | None:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``), or None where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Make VmHWM start again from the current RSS (Linux); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _return_freed_memory() -> None:
    """Hand memory freed by earlier measurements back to the OS (glibc), so it does not count as resident."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MemoryProbe:
    """Peak memory of a block of work: ``probe.start()``, the work, then ``probe.stop()`` -> fields of a record.

    CUDA: ``{"peak_mem_mb", "mem_start_mb"}`` from the caching allocator's counters (tensors only).
    CPU: ``{"peak_rss_mb", "rss_start_mb", "rss_growth_mb"}``, the process's resident set size; where the peak
    cannot be reset (not Linux) the peak since the process started, marked by
    ``"memory": "process_peak_rss_since_start"`` and without ``rss_growth_mb``.
    """

    def __init__(self, device: str | torch.device):
        self.device = torch.device(device)
        self.start_mb: float | None = None
        self.resettable = False

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start_mb = torch.cuda.memory_allocated(self.device) / MB
            return
        _return_freed_memory()
        self.resettable = _reset_peak_rss()
        rss_kb = _status_kb("VmRSS")
        self.start_mb = rss_kb / 1024 if rss_kb is not None else None

    def stop(self) -> dict:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) / MB
            start = round(self.start_mb, 1)
            return {"peak_mem_mb": round(peak, 1), "mem_start_mb": start, "memory": "cuda_max_allocated"}
        peak_kb = _status_kb("VmHWM") if self.resettable else None
        kind = "process_peak_rss"
        if peak_kb is None:
            try:
                import resource

                max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                peak_kb = max_rss / 1024 if sys.platform == "darwin" else max_rss  # bytes on macOS, kB elsewhere
                kind = "process_peak_rss_since_start"
            except (ImportError, OSError):
                return {"peak_rss_mb": None, "rss_start_mb": None, "memory": "unavailable"}
        peak_mb = peak_kb / 1024
        fields = {"peak_rss_mb": round(peak_mb, 1), "rss_start_mb": None, "rss_growth_mb": None, "memory": kind}
        if self.start_mb is not None and kind == "process_peak_rss":
            fields["rss_start_mb"] = round(self.start_mb, 1)
            fields["rss_growth_mb"] = round(max(peak_mb - self.start_mb, 0.0), 1)
        return fields


def model_memory_mb(record: dict) -> float | None:
    """The memory one measurement needed: CUDA's peak allocation (weights included), or on the CPU how far the
    process's RSS rose during it (the weights were resident before)."""
    return record["peak_mem_mb"] if "peak_mem_mb" in record else record.get("rss_growth_mb")


# ----------------------------------------------------------------------------------------------------------
# Latency
# ----------------------------------------------------------------------------------------------------------


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_latency(
    model: nn.Module,
    size: Size,
    batch: int = 1,
    warmup: int = 1,
    runs: int = 5,
    device: str | torch.device = "cpu",
) -> dict:
    """Time ``runs`` forward passes of a random ``(batch, 3, H, W)`` batch after ``warmup`` untimed ones.

    The model must already be on ``device``; it is put in eval mode. Returns ``size`` [H, W], ``batch``,
    ``warmup``, ``runs``, ``img_per_s`` (batch / median latency), ``latency_ms_p50`` / ``_p90`` / ``_min``
    and the peak memory fields of :class:`MemoryProbe`.
    """
    if runs < 1 or warmup < 0 or batch < 1:
        raise ValueError(f"need runs >= 1, warmup >= 0 and batch >= 1, got {runs}, {warmup}, {batch}")
    device = torch.device(device)
    h, w = as_hw(size)
    model.eval()
    images = torch.randn(batch, 3, h, w, device=device)
    probe = MemoryProbe(device)
    seconds = []
    with torch.inference_mode():
        probe.start()
        for _ in range(warmup):
            model(images)
        _synchronize(device)
        for _ in range(runs):
            start = time.perf_counter()
            model(images)  # the output is dropped at once, so that it does not add to the next pass's memory
            _synchronize(device)
            seconds.append(time.perf_counter() - start)
        memory = probe.stop()
    p50 = statistics.median(seconds)
    return {
        "size": [h, w],
        "batch": batch,
        "warmup": warmup,
        "runs": runs,
        "img_per_s": batch / p50,
        "latency_ms_p50": 1000 * p50,
        "latency_ms_p90": 1000 * float(np.percentile(seconds, 90)),
        "latency_ms_min": 1000 * min(seconds),
        **memory,
    }


def interleaved_seconds(work: dict[str, Callable[[], object]], warmup: int = 1, runs: int = 5,
                        alternate: bool = False) -> dict[str, list[float]]:  # fmt: skip
    """Seconds of each callable, round by round: ``warmup`` untimed rounds, then ``runs`` timed ones, one call of
    each per round, so that a host whose speed drifts slows every contender alike; with ``alternate``, every
    other round calls them in reverse order (for callables long enough that what runs first in a round
    matters). Returns ``{name: [seconds per round]}``."""
    if runs < 1 or warmup < 0:
        raise ValueError("need runs >= 1 and warmup >= 0")
    for _ in range(warmup):
        for call in work.values():
            call()
    seconds: dict[str, list[float]] = {name: [] for name in work}
    for r in range(runs):
        for name in list(work)[:: -1 if alternate and r % 2 else 1]:
            start = time.perf_counter()
            work[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def interleaved_ratio(models: dict[str, nn.Module], size: Size, baseline: str, warmup: int = 1, runs: int = 5,
                      device: str | torch.device = "cpu") -> dict:  # fmt: skip
    """Time the ``models`` round by round (A B A B ...: one forward pass of each per round, on the same random
    batch-1 image; :func:`interleaved_seconds`), so that a host whose speed drifts slows every contender alike,
    and give each model's time relative to ``baseline``'s in the same round.

    Returns ``{"runs", "seconds": {name: [per round]}, "ratio": {name: {"median", "min", "max"}}}`` where a
    ratio is the model's seconds / the baseline's (above 1: slower than the baseline). Models must already be on
    ``device``; they are put in eval mode.
    """
    if runs < 1 or warmup < 0 or baseline not in models:
        raise ValueError(f"need runs >= 1, warmup >= 0 and {baseline!r} among the models")
    device = torch.device(device)
    h, w = as_hw(size)
    images = torch.randn(1, 3, h, w, device=device)

    def forward(model: nn.Module) -> Callable[[], None]:
        def call() -> None:  # the previous call ended synchronised, so the clock starts on an idle device
            model(images)
            _synchronize(device)

        return call

    _synchronize(device)
    with torch.inference_mode():
        seconds = interleaved_seconds({name: forward(m.eval()) for name, m in models.items()}, warmup, runs)
    ratios = {}
    for name, times in seconds.items():
        per_round = [t / b for t, b in zip(times, seconds[baseline])]
        ratios[name] = {"median": statistics.median(per_round), "min": min(per_round), "max": max(per_round)}
    return {"runs": runs, "seconds": seconds, "ratio": ratios}


# ----------------------------------------------------------------------------------------------------------
# FLOPs and parameters
# ----------------------------------------------------------------------------------------------------------


def count_params(model: nn.Module) -> int:
    """Every parameter of the module (shared ones once)."""
    return sum(p.numel() for p in model.parameters())


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose parameters and buffers live on the ``meta`` device (shapes only, no data)."""
    memo: dict[int, torch.Tensor] = {}
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        meta = torch.empty_like(tensor, device="meta")
        memo[id(tensor)] = nn.Parameter(meta, tensor.requires_grad) if isinstance(tensor, nn.Parameter) else meta
    return copy.deepcopy(model, memo)


class _TensorsRead(TorchDispatchMode):
    """Records the ids of every tensor that an operation reads while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        self.ids.update(id(a) for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor))
        return func(*args, **kwargs)


def _profile(model: nn.Module, images: torch.Tensor) -> dict:
    """FLOPs of one forward pass, and the parameters it reads (a parameter is the same Python object whatever
    the module that uses it; a training-only auxiliary head reads none)."""
    with FlopCounterMode(display=False) as counter, _TensorsRead() as reads, torch.inference_mode():
        model(images)
    used = sum(p.numel() for p in model.parameters() if id(p) in reads.ids)
    return {"flops": float(counter.get_total_flops()), "inference_params": used}


def profile_forward(model: nn.Module, size: Size, batch: int = 1) -> dict:
    """FLOPs of one forward pass (``flops``) and the parameters of the modules it runs (``inference_params``).

    Runs on a ``meta`` copy of the model (no arithmetic, no memory); a model that cannot run on ``meta`` (one
    that reads tensor values) is run for real on its own device instead. The model is put in eval mode.
    """
    h, w = as_hw(size)
    model.eval()
    try:
        return _profile(_meta_copy(model), torch.empty(batch, 3, h, w, device="meta"))
    except Exception:  # meta tensors have no values: any op that needs one fails, each in its own way
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        return _profile(model, torch.randn(batch, 3, h, w, device=device))


def count_flops(model: nn.Module, size: Size, batch: int = 1) -> float:
    """FLOPs of one forward pass on a ``(batch, 3, H, W)`` input as ``FlopCounterMode`` counts them.

    2 FLOPs per multiply-add of convolutions (bias excluded), matrix products and attention; element-wise ops,
    norms, pooling and resizing count 0. Divide by 1e9 for GFLOPs.
    """
    return profile_forward(model, size, batch)["flops"]


# ----------------------------------------------------------------------------------------------------------
# Scaling with the image size
# ----------------------------------------------------------------------------------------------------------


def fit_scaling_exponent(pixels: Sequence[float], seconds: Sequence[float]) -> float:
    """``k`` of ``seconds = c * pixels**k``: the least-squares slope of log(seconds) against log(pixels)."""
    if len(pixels) != len(seconds) or len(set(pixels)) < 2:
        raise ValueError("fitting a scaling exponent needs at least two different sizes")
    if min(pixels) <= 0 or min(seconds) <= 0:
        raise ValueError("pixels and seconds must be positive")
    slope, _ = np.polyfit(np.log(pixels), np.log(seconds), 1)
    return float(slope)


def scaling_summary(points: Sequence[dict], gflops: Sequence[float] | None = None) -> dict:
    """A ``scaling`` record from batch-1 :func:`measure_latency` results at several sizes (and their GFLOPs).

    Per size: ``megapixels``, ``latency_ms_p50``, ``s_per_mp`` (seconds per megapixel) and ``memory_mb``
    (:func:`model_memory_mb`);
    overall: ``exponent`` (time), ``local_exponents`` (between neighbouring sizes) and ``flops_exponent``.
    """
    order = sorted(range(len(points)), key=lambda i: megapixels(points[i]["size"]))
    points = [points[i] for i in order]
    mp = [megapixels(p["size"]) for p in points]
    seconds = [p["latency_ms_p50"] / 1000 for p in points]
    record = {
        "kind": "scaling",
        "sizes": [p["size"] for p in points],
        "megapixels": mp,
        "latency_ms_p50": [p["latency_ms_p50"] for p in points],
        "s_per_mp": [s / m for s, m in zip(seconds, mp)],
        "memory_mb": [model_memory_mb(p) for p in points],
        "exponent": fit_scaling_exponent(mp, seconds),
        "local_exponents": [
            fit_scaling_exponent(mp[i : i + 2], seconds[i : i + 2]) for i in range(len(mp) - 1)
        ],
    }
    if gflops is not None:
        gflops = [gflops[i] for i in order]
        record["gflops"] = list(gflops)
        record["flops_exponent"] = fit_scaling_exponent(mp, gflops)
    record["note"] = SCALING_NOTE
    return record


# ----------------------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------------------


