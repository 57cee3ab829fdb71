"""``swinseg benchmark`` end to end: JSON lines, peers of the same architecture, comparisons, scaling, the table,
output files, errors and the mIoU record."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import torch

from swinseg.checkpoints.saving import save_checkpoint
from swinseg.cli import main
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config

# swin_toy (C=16, depths 2-2-2-2, heads 1-2-2-4), window 7, UPerNet with 16 channels, an auxiliary head, 5 classes
TINY_YAML = """
model:
  encoder: {embed_dim: 16, depths: [2, 2, 2, 2], num_heads: [1, 2, 2, 4], window_size: 7}
  decoder: %s
  num_classes: 5
  decoder_args: %s
  aux_head: %s
  aux_args: {channels: 8}
data:
  scale: [128, 64]
"""


TOY = SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=5, decoder_args={"channels": 16}, aux_head=False)


def write_config(tmp_path: Path, decoder: str = "upernet", args: str = "{channels: 16}", aux: bool = True) -> str:
    path = tmp_path / f"tiny_{decoder}.yaml"
    path.write_text(TINY_YAML % (decoder, args, str(aux).lower()))
    return str(path)


def run_cli(argv: list[str]) -> tuple[int, list[dict], str, str]:
    """(exit status, JSON records, the Markdown after them, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    text = out.getvalue()
    json_part, _, table = text.partition("\n\n")
    records = [json.loads(line) for line in json_part.splitlines() if line.strip()]
    return code, records, table, err.getvalue()


def by_kind(records: list[dict], kind: str) -> list[dict]:
    return [r for r in records if r.get("kind") == kind]


# ----------------------------------------------------------------------------------------------------------
# Library
# ----------------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------------
# The command, with peers
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def peer_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    argv = ["benchmark", "--config", write_config(tmp), "--sizes", "64", "--batch-sizes", "1", "--runs", "2",
            "--scaling", "64", "96", "--peers", "--threads", "2", "--device", "cpu",
            "--markdown", str(tmp / "table.md")]  # fmt: skip
    code, records, table, err = run_cli(argv)
    return code, records, table, err, tmp


def test_cli_json_lines(peer_run):
    code, records, _, err, _ = peer_run
    assert code == 0, err
    host = records[0]
    assert host["kind"] == "host" and host["threads"] == 2 and host["torch"] == torch.__version__ and host["cpu"]
    latency = by_kind(records, "latency")
    assert [r["impl"] for r in latency] == ["swinseg", "huggingface", "smp"]  # measured in turn
    for r in latency:
        assert r["size"] == [64, 64] and r["device"] == "cpu" and r["threads"] == 2
        for key in ("img_per_s", "latency_ms_p50", "latency_ms_p90", "params_m", "inference_params_m", "gflops"):
            assert r[key] > 0, key
        assert r["latency_ms_p90"] >= r["latency_ms_p50"]
        assert r["peak_rss_mb"] > 0 or r["memory"] == "unavailable"


def test_cli_peers_have_the_same_architecture(peer_run):
    _, records, _, _, _ = peer_run
    models = {r["impl"]: r for r in by_kind(records, "model")}
    ours, hf, smp = models["swinseg"], models["huggingface"], models["smp"]
    assert ours["weights"] == "random" and ours["arch"].startswith("Swin C=16 depths=2-2-2-2 heads=1-2-2-4 window=7")
    # Hugging Face: the same modules (auxiliary head included) plus its classifier's final LayerNorm over 8C = 128.
    assert round((hf["params_m"] - ours["params_m"]) * 1e6) == 2 * 128
    # smp's UPerNet decoder normalises the features itself, in place of swinseg's output norms: same parameters.
    assert smp["inference_params_m"] == ours["inference_params_m"]
    # swinseg's auxiliary head is training-only: not among the parameters that run.
    assert ours["inference_params_m"] < ours["params_m"]
    # The same work, except that swinseg's UPerNet bottleneck mixes the upsampled levels' channels on their
    # coarse grids (swinseg.models.upsampled_conv): fewer FLOPs for the same logits.
    gflops = {r["impl"]: r["gflops"] for r in by_kind(records, "latency")}
    assert gflops["huggingface"] == gflops["smp"]
    assert gflops["swinseg"] < gflops["smp"]  # by 1 % for this toy head of 16 channels, 42 % for Swin-T's 512


def test_cli_comparisons_scaling_and_table(peer_run):
    _, records, table, _, tmp = peer_run
    comparisons = by_kind(records, "comparison")
    assert [r["vs"] for r in comparisons] == ["huggingface", "smp"]
    assert all(r["speedup"] > 0 and r["gflops_ratio"] > 1 for r in comparisons)  # peer / swinseg: see above
    scaling = {r["impl"]: r for r in by_kind(records, "scaling")}
    assert set(scaling) == {"swinseg", "huggingface", "smp"}
    for r in scaling.values():
        assert r["sizes"] == [[64, 64], [96, 96]] and math.isfinite(r["exponent"]) and len(r["s_per_mp"]) == 2
        assert 0 < r["flops_exponent"] < 1.2  # FLOPs grow with the pixels (fixed-size pyramid pooling aside)
    assert "| impl | size | batch | img/s |" in table and "| huggingface | 64x64 | 1 |" in table
    assert "k (time)" in table
    assert (tmp / "table.md").read_text() == table


# ----------------------------------------------------------------------------------------------------------
# The command: checkpoints, files, errors, data
# ----------------------------------------------------------------------------------------------------------

QUICK = ["--sizes", "64", "--batch-sizes", "1", "--runs", "1", "--warmup", "0", "--no-scaling", "--device", "cpu"]


def test_checkpoint_and_out_file_that_is_not_overwritten(tmp_path):
    checkpoint = save_checkpoint(build_model(TOY), tmp_path / "toy.safetensors")
    out = tmp_path / "results.jsonl"
    code, records, _, err = run_cli(["benchmark", str(checkpoint), "--out", str(out), *QUICK])
    assert code == 0, err
    assert [json.loads(line) for line in out.read_text().splitlines()] == records
    assert by_kind(records, "model")[0]["weights"] == str(checkpoint)
    assert by_kind(records, "latency")[0]["model"] == "toy.safetensors"

    code, _, _, err = run_cli(["benchmark", str(checkpoint), "--out", str(out), *QUICK])
    assert code == 1
    expected = f"swinseg benchmark: error: {out}: exists already (pass --overwrite to replace it)"
    assert err.strip().splitlines() == [expected]
    code, _, _, err = run_cli(["benchmark", str(checkpoint), "--out", str(out), "--overwrite", *QUICK])
    assert code == 0, err


def test_bad_checkpoint_is_a_one_line_error(tmp_path):
    missing = tmp_path / "nope.safetensors"
    code, records, _, err = run_cli(["benchmark", str(missing), *QUICK])
    assert code == 1 and records == []
    assert err.strip().splitlines() == [f"swinseg benchmark: error: {missing}: no such file or directory"]


def test_no_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", *QUICK])
    assert exit_info.value.code == 2
    assert "give a CHECKPOINT or --config" in capsys.readouterr().err


def test_peers_without_a_counterpart_are_skipped_records(tmp_path):
    config = write_config(tmp_path, "swin_unet", "{depths: [1, 1, 1]}", aux=False)
    code, records, table, err = run_cli(["benchmark", "--config", config, "--peers", *QUICK])
    assert code == 0, err
    skipped = {r["impl"]: r["skipped"] for r in records if "skipped" in r}
    assert set(skipped) == {"huggingface", "smp"} and "swin_unet" in skipped["smp"]
    assert [r["impl"] for r in by_kind(records, "latency")] == ["swinseg"]
    assert "Skipped:" in table


def test_data_gives_miou_and_its_time(tmp_path):
    from swinseg.data.synth import generate_ade20k

    root = generate_ade20k(tmp_path / "synth", num_train=1, num_val=2, size=(64, 64), progress=False)
    code, records, table, err = run_cli(["benchmark", "--config", write_config(tmp_path), "--data", str(root), *QUICK])
    assert code == 0, err
    (miou,) = by_kind(records, "miou")
    assert miou["num_images"] == 2 and 0 <= miou["mIoU"] <= 100 and miou["eval_s"] > 0 and miou["img_per_s"] > 0
    assert "| swinseg |" in table and "| mIoU |" in table


def test_backend_runs_swinseg_that_way_and_names_it(tmp_path):
    """--backend int8: swinseg's model is the quantised one (fewer counted FLOPs: quantised Linear layers are not
    matrix products to the FLOP counter), named so in every record; the run is otherwise the same."""
    config = write_config(tmp_path)
    runs = {b: run_cli(["benchmark", "--config", config, "--backend", b, *QUICK]) for b in ("eager", "int8")}
    for code, _, _, err in runs.values():
        assert code == 0, err
    latency = {b: by_kind(records, "latency")[0] for b, (_, records, _, _) in runs.items()}
    assert latency["eager"]["model"] == "tiny_upernet" and latency["int8"]["model"] == "tiny_upernet --backend int8"
    assert 0 < latency["int8"]["gflops"] < latency["eager"]["gflops"]
