"""``swinseg benchmark``: speed, memory, FLOPs and image-size scaling of a model, beside its peers.

The model comes from a checkpoint (any format ``swinseg eval`` reads) or from a training config (random
weights). With ``--peers`` the same architecture is built in Hugging Face transformers and in smp + timm
(:mod:`swinseg.benchmark.peers`) and every measurement runs for each implementation in turn, in this one
process with the same threads. Results are JSON lines on stdout (and ``--out``), then a Markdown table.
Progress goes to stderr. What each number means: :mod:`swinseg.benchmark.measure`; the run: :mod:`swinseg.benchmark.runner`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from swinseg.benchmark.runner import BenchmarkOptions, run_benchmark
from swinseg.benchmark.table import markdown_table
from swinseg.cli.args import image_size, non_negative_int, positive_int
from swinseg.cli.common import HelpFormatter, refuse_existing
from swinseg.core.atomic_write import atomic_write
from swinseg.inference.backends import BACKENDS


def write_outputs(args: argparse.Namespace, records: list[dict], table: str) -> None:
    if args.out is not None:
        text = "".join(json.dumps(r, allow_nan=False) + "\n" for r in records)
        atomic_write(args.out, lambda tmp: Path(tmp).write_text(text), overwrite=args.overwrite)
    if args.markdown is not None:
        atomic_write(args.markdown, lambda tmp: Path(tmp).write_text(table), overwrite=args.overwrite)


def run(args: argparse.Namespace) -> int:
    if args.checkpoint is None and args.config is None:
        args.benchmark_parser.error("give a CHECKPOINT or --config CONFIG.yaml")
    refuse_existing(args.out, args.markdown, overwrite=args.overwrite)  # now, not after minutes of measuring
    options = BenchmarkOptions(
        checkpoint=args.checkpoint, config=args.config, sizes=tuple(args.sizes), batch_sizes=tuple(args.batch_sizes),
        warmup=args.warmup, runs=args.runs, scaling=() if args.no_scaling else tuple(args.scaling),
        peers=args.peers, data=args.data, device=args.device, threads=args.threads, backend=args.backend,
    )  # fmt: skip
    records = run_benchmark(options)
    table = markdown_table(records)
    print("\n" + table, end="")
    write_outputs(args, records, table)
    return 0


# ----------------------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="throughput, latency, memory, FLOPs and size scaling (optionally vs Hugging Face and smp)",
        description="Measure a model from a checkpoint, or from a training config with random weights:\n"
        "throughput (img/s) and latency (p50/p90) at each size and batch size, peak memory, parameters, GFLOPs\n"
        "(torch.utils.flop_counter, 2 per multiply-add), and seconds per megapixel across the --scaling sizes with\n"
        "the fitted exponent k of seconds ~ pixels^k (1.0 = linear in image size, the Swin paper's claim).\n"
        "--peers builds the same architecture in Hugging Face transformers (UperNet-Swin) and in smp + timm, and\n"
        "measures each in turn in this process. Output: JSON lines on stdout (and --out), then a Markdown table\n"
        "(and --markdown); progress on stderr. On the CPU, memory is the process's resident set size (RSS).",
        epilog="examples:\n"
        "  swinseg benchmark --config configs/upernet_swin_t_ade20k_512.yaml --sizes 512 --batch-sizes 1 --peers\n"
        "  swinseg benchmark runs/upernet_swin_t_ade20k_512/best.safetensors --data data/ade/ADEChallengeData2016 \\\n"
        "      --out results.jsonl --markdown results.md\n"
        "  swinseg benchmark --config configs/upernet_swin_t_ade20k_512.yaml --sizes 512 --runs 2 \\\n"
        "      --scaling 256 512 1024",
        formatter_class=HelpFormatter,
    )
    p.add_argument("checkpoint", nargs="?", metavar="CHECKPOINT",
                   help="checkpoint file, Hugging Face / smp directory or training run directory")  # fmt: skip
    p.add_argument(
        "--config", metavar="CONFIG.yaml",
        help="training config: the model with random weights (or the architecture for CHECKPOINT)",
    )  # fmt: skip
    p.add_argument("--sizes", nargs="+", type=image_size, default=[512, 1024], metavar="SIZE",
                   help="image sizes for throughput and latency: 512 or HxW like 512x1024")  # fmt: skip
    p.add_argument("--batch-sizes", nargs="+", type=positive_int, default=[1, 2], metavar="B",
                   help="batch sizes for throughput and latency")  # fmt: skip
    p.add_argument("--warmup", type=non_negative_int, default=1, help="untimed passes before each measurement")
    p.add_argument("--runs", type=positive_int, default=5, help="timed passes per measurement")
    p.add_argument(
        "--scaling", nargs="+", type=image_size, default=[256, 512, 1024, 2048], metavar="SIZE",
        help="sizes (batch 1) for seconds per megapixel and the scaling exponent",
    )  # fmt: skip
    p.add_argument("--no-scaling", action="store_true", help="skip the scaling sizes")
    p.add_argument(
        "--peers", action="store_true",
        help="also Hugging Face UperNet-Swin and smp + timm Swin of the same architecture (random weights)",
    )  # fmt: skip
    p.add_argument("--data", metavar="ROOT", help="ADE20K-layout dataset: also the validation mIoU and its time")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1, ...")
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (None: torch's choice)")
    p.add_argument("--backend", choices=BACKENDS, default="eager",
                   help="how swinseg's model runs, as for predict and eval (the peers run eager fp32); compile: "
                   "each new size compiles in the --warmup passes (keep it >= 1)")  # fmt: skip
    p.add_argument("--out", metavar="FILE.jsonl", help="also write the JSON lines here")
    p.add_argument("--markdown", metavar="FILE.md", help="also write the Markdown table here")
    p.add_argument("--overwrite", action="store_true", help="replace --out / --markdown files that exist")
    p.set_defaults(run=run, benchmark_parser=p)
