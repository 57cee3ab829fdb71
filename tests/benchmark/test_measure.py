"""The measuring functions (FLOPs, parameters read, scaling exponent, latency fields) against numbers worked out
by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from swinseg.benchmark.measure import (
    count_flops,
    interleaved_ratio,
    interleaved_seconds,
    fit_scaling_exponent,
    measure_latency,
    profile_forward,
    scaling_summary,
)
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config

TOY = SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=5, decoder_args={"channels": 16}, aux_head=False)


# ----------------------------------------------------------------------------------------------------------
# Library
# ----------------------------------------------------------------------------------------------------------


def test_count_flops_matches_a_hand_count():
    h, w = 10, 12
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * h * w, 5))
    conv = 2 * (h * w * 8) * (3 * 3 * 3)  # 2 FLOPs per multiply-add: each output value sums 3x3x3 products
    linear = 2 * (8 * h * w) * 5
    assert count_flops(model, (h, w)) == conv + linear
    assert count_flops(model, (h, w), batch=3) == 3 * (conv + linear)


def test_inference_params_leave_out_modules_that_do_not_run():
    class WithUnusedHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)  # 16 parameters
            self.unused = nn.Linear(100, 100)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)

    assert profile_forward(WithUnusedHead(), 8) == {"flops": 2 * 8 * 8 * 4 * 3, "inference_params": 16}


def test_scaling_exponent_fits_a_known_power_law():
    pixels = [256**2, 512**2, 1024**2, 2048**2]
    assert fit_scaling_exponent(pixels, [3e-9 * p**1.3 for p in pixels]) == pytest.approx(1.3, abs=1e-9)
    # seconds proportional to pixels: exponent 1 and the same seconds per megapixel at every size
    points = [{"size": [s, s], "latency_ms_p50": 40.0 * (s / 256) ** 2, "peak_rss_mb": 1.0} for s in (256, 512, 1024)]
    summary = scaling_summary(points, gflops=[10.0, 40.0, 160.0])
    assert summary["exponent"] == pytest.approx(1.0) and summary["flops_exponent"] == pytest.approx(1.0)
    assert summary["s_per_mp"] == pytest.approx([0.04 / 0.065536] * 3)
    with pytest.raises(ValueError, match="two different sizes"):
        fit_scaling_exponent([100, 100], [1.0, 2.0])


def test_measure_latency_fields():
    result = measure_latency(build_model(TOY), 64, batch=2, warmup=1, runs=3)
    assert result["size"] == [64, 64] and result["batch"] == 2 and result["runs"] == 3
    assert 0 < result["latency_ms_min"] <= result["latency_ms_p50"] <= result["latency_ms_p90"]
    assert result["img_per_s"] == pytest.approx(2 / (result["latency_ms_p50"] / 1000))
    if Path("/proc/self/clear_refs").exists():  # Linux: the peak RSS of this measurement
        assert result["memory"] == "process_peak_rss"
        assert result["peak_rss_mb"] >= result["rss_start_mb"] > 0 and result["rss_growth_mb"] >= 0


# ----------------------------------------------------------------------------------------------------------
# The command, with peers
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# The command: checkpoints, files, errors, data
# ----------------------------------------------------------------------------------------------------------




class _Repeat(nn.Module):
    """A conv applied ``times`` times: work proportional to ``times``."""

    def __init__(self, times: int):
        super().__init__()
        self.conv, self.times = nn.Conv2d(3, 3, 3, padding=1), times

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.times):
            x = self.conv(x)
        return x


def test_interleaved_ratio_times_round_by_round_against_the_baseline():
    torch.manual_seed(0)
    out = interleaved_ratio({"one": _Repeat(4), "four": _Repeat(16)}, 128, baseline="one", warmup=1, runs=5)
    assert out["runs"] == 5 and [len(v) for v in out["seconds"].values()] == [5, 5]
    assert out["ratio"]["one"] == {"median": 1.0, "min": 1.0, "max": 1.0}
    four = out["ratio"]["four"]
    assert four["min"] <= four["median"] <= four["max"] and 2.0 < four["median"] < 8.0, four  # 4x the work
    with pytest.raises(ValueError, match="among the models"):
        interleaved_ratio({"one": _Repeat(1)}, 32, baseline="two")


def test_interleaved_seconds_calls_one_of_each_per_round():
    calls: list[str] = []
    work = {name: (lambda n=name: calls.append(n)) for name in ("a", "b", "c")}
    seconds = interleaved_seconds(work, warmup=1, runs=3)
    assert calls == list("abc") * 4 and {n: len(t) for n, t in seconds.items()} == {"a": 3, "b": 3, "c": 3}
    calls.clear()
    interleaved_seconds(work, warmup=0, runs=3, alternate=True)
    assert calls == list("abc" "cba" "abc")  # every other round reversed
    with pytest.raises(ValueError, match="runs >= 1"):
        interleaved_seconds(work, runs=0)


def test_host_info_names_the_instruction_sets_and_what_caps_them(monkeypatch):
    from swinseg.benchmark.measure import CPU_FLAGS, host_info

    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    info = host_info("cpu")
    assert info["isa_limits"].get("DNNL_MAX_CPU_ISA") == "AVX2" and "ONEDNN_MAX_CPU_ISA" not in info["isa_limits"]
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert set(info["cpu_flags"]) <= set(CPU_FLAGS)
    if Path("/proc/cpuinfo").exists():  # Linux: the same flags, read here independently
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
        assert info["cpu_flags"] == [f for f in CPU_FLAGS if f in flags.split()]


def test_host_info_says_whether_huge_pages_were_asked_for(monkeypatch):
    from swinseg.benchmark.measure import host_info

    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "0")
    assert host_info("cpu")["huge_pages"]["THP_MEM_ALLOC_ENABLE"] == "0"
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE")
    pages = host_info("cpu")["huge_pages"]
    assert pages["THP_MEM_ALLOC_ENABLE"] is None
    policy = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if policy.exists():  # the kernel's choice is the bracketed word
        assert f"[{pages['kernel']}]" in policy.read_text()
