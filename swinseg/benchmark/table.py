"""The records of one benchmark run as Markdown tables: speed and memory, scaling, mIoU, what was skipped."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["markdown_table"]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _sig(value: float | None) -> str:
    """Three significant digits: 236, 0.0465."""
    return "-" if value is None or not math.isfinite(value) else f"{value:.3g}"


def _size(size: Sequence[int]) -> str:
    return f"{size[0]}x{size[1]}"


def markdown_table(records: Sequence[dict]) -> str:
    """The records of one ``swinseg benchmark`` run as Markdown: speed and memory, scaling, mIoU, skipped."""
    host = next((r for r in records if r.get("kind") == "host"), None)
    lines: list[str] = []
    if host is not None:
        threads = f"{host['threads']} threads"
        where = host["gpu"] or host["cpu"]
        lines += [
            f"Host: {where} ({host['device']}, {threads}), torch {host['torch']}. "
            f"Memory: {host['memory']}. {host['flops']}.",
            "",
        ]
    latency = [r for r in records if r.get("kind") == "latency" and "skipped" not in r]
    if latency:
        cuda = any("peak_mem_mb" in r for r in latency)
        mem_columns = "peak MB" if cuda else "peak RSS MB | RSS growth MB"

        def memory_cells(r: dict) -> str:
            if cuda:
                return _fmt(r.get("peak_mem_mb"), 0)
            return f"{_fmt(r.get('peak_rss_mb'), 0)} | {_fmt(r.get('rss_growth_mb'), 0)}"

        speedups = {
            (r["vs"], tuple(r["size"]), r["batch"]): r["speedup"] for r in records if r.get("kind") == "comparison"
        }
        lines += [
            f"| impl | size | batch | img/s | p50 ms | p90 ms | {mem_columns} | params M | GFLOPs/img |"
            + (" swinseg speed-up |" if speedups else ""),
            "|:---|:---|---:|---:|---:|---:|" + "---:|" * ((1 if cuda else 2) + 2 + (1 if speedups else 0)),
        ]
        for r in latency:
            row = (
                f"| {r['impl']} | {_size(r['size'])} | {r['batch']} | {_fmt(r['img_per_s'])} "
                f"| {_fmt(r['latency_ms_p50'], 1)} | {_fmt(r['latency_ms_p90'], 1)} | {memory_cells(r)} "
                f"| {_sig(r['params_m'])} | {_sig(r.get('gflops'))} |"
            )
            if speedups:
                speedup = speedups.get((r["impl"], tuple(r["size"]), r["batch"]))
                row += f" {_fmt(speedup) + 'x' if speedup else ''} |"
            lines.append(row)
        if speedups:
            lines.append("\nswinseg speed-up: swinseg's img/s divided by the peer's at the same size and batch "
                         "(> 1: swinseg is faster).")
        lines.append("")
    scaling = [r for r in records if r.get("kind") == "scaling" and "skipped" not in r]
    if scaling:
        sizes = sorted({tuple(s) for r in scaling for s in r["sizes"]}, key=lambda s: s[0] * s[1])
        lines += [
            "Seconds per megapixel (batch 1) and the fitted exponent of seconds ~ pixels^k (1.0 = linear):",
            "",
            "| impl | " + " | ".join(f"{_size(s)} s/MP" for s in sizes) + " | k (time) | k (FLOPs) |",
            "|:---|" + "---:|" * (len(sizes) + 2),
        ]
        for r in scaling:
            per_size = {tuple(s): v for s, v in zip(r["sizes"], r["s_per_mp"])}
            cells = " | ".join(_sig(per_size.get(s)) for s in sizes)
            lines.append(f"| {r['impl']} | {cells} | {_fmt(r['exponent'])} | {_fmt(r.get('flops_exponent'))} |")
        lines.append("")
    miou = [r for r in records if r.get("kind") == "miou" and "skipped" not in r]
    if miou:
        lines += ["| impl | data | images | mIoU | aAcc | eval s | img/s |", "|:---|:---|---:|---:|---:|---:|---:|"]
        for r in miou:
            lines.append(
                f"| {r['impl']} | {r['data']} | {r['num_images']} | {_fmt(r['mIoU'])} | {_fmt(r['aAcc'])} "
                f"| {_fmt(r['eval_s'], 1)} | {_fmt(r['img_per_s'])} |"
            )
        lines.append("")
    skipped = [r for r in records if "skipped" in r]
    if skipped:
        lines.append("Skipped:")
        for r in skipped:
            where = f" at {_size(r['size'])} batch {r['batch']}" if "size" in r else ""
            lines.append(f"- {r['impl']} ({r.get('kind', '?')}){where}: {r['skipped']}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
