"""mIoU benchmarking from the command line: eval / score with intervals and stats files, compare, aggregate,
leaderboard, and the label conventions that must not go silently wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from swinseg.checkpoints.saving import save_checkpoint
from swinseg.cli import main
from swinseg.data.classes import ade20k_classes
from swinseg.evaluation.image_stats import ImageStats
from swinseg.models.segmentor import build_model
from tests.cli.conftest import error_line
from tests.conftest import randomize_


def _predictions(ann_dir, out, correct: float, seed: int = 0, offset: int = 0):
    """Prediction PNGs that are right on a fraction ``correct`` of the labelled pixels (0-based, + ``offset``)."""
    out.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for ann in sorted(ann_dir.glob("*.png")):
        label = np.maximum(np.array(Image.open(ann)).astype(np.int64) - 1, 0)
        pred = np.where(rng.random(label.shape) < correct, label, rng.integers(0, 150, label.shape))
        Image.fromarray((pred + offset).astype(np.uint8)).save(out / ann.name)
    return out


@pytest.fixture(scope="module")
def folders(synth_and_model, tmp_path_factory):
    root, _ = synth_and_model
    tmp = tmp_path_factory.mktemp("folders")
    ann = root / "annotations/validation"
    return ann, _predictions(ann, tmp / "good", 0.9), _predictions(ann, tmp / "bad", 0.3, seed=1)


def test_score_with_intervals_and_stats_that_rescore_bit_for_bit(folders, tmp_path, capsys):
    ann, good, _ = folders
    out, stats = tmp_path / "r.json", tmp_path / "s.npz"
    args = ["score", str(good), str(ann), "--ci", "0.9", "--n-boot", "300", "--save-stats", str(stats), "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    results = json.loads(out.read_text())
    low, high = results["summary"]["mIoU_ci"]
    assert low < results["summary"]["mIoU"] == results["mIoU"] < high and f"[{low:.2f}, {high:.2f}]" in printed
    assert all("IoU_ci" in row for row in results["per_class"]) and results["ci"]["n_boot"] == 300
    assert results["provenance"]["dataset"]["num_images"] == 4 and len(results["provenance"]["dataset"]["sha256"]) == 64
    again = ImageStats.load(stats).metrics()
    assert again["mIoU"] == results["mIoU"] and again["per_class"] == [
        {k: v for k, v in row.items() if k != "IoU_ci"} for row in results["per_class"]]  # fmt: skip


def test_eval_saves_stats_with_provenance(synth_and_model, tmp_path, capsys):
    root, checkpoint = synth_and_model
    stats, out = tmp_path / "m.npz", tmp_path / "m.json"
    assert main(["eval", str(checkpoint), "--data", str(root), "--save-stats", str(stats), "--out", str(out),
                 "--ci", "0.95", "--n-boot", "200"]) == 0  # fmt: skip
    capsys.readouterr()
    loaded, results = ImageStats.load(stats), json.loads(out.read_text())
    assert loaded.metrics()["mIoU"] == results["mIoU"] and loaded.num_images == 4
    record = loaded.provenance
    assert record["checkpoint"]["path"] == str(checkpoint) and len(record["checkpoint"]["sha256"]) == 64
    assert record["inference"]["mode"] == "whole" and record["inference"]["crop_size"] == [48, 48]
    assert record["versions"]["torch"] and results["provenance"] == record


def test_compare_two_folders_writes_json_and_a_plot(folders, tmp_path, capsys):
    ann, good, bad = folders
    out, plot = tmp_path / "c.json", tmp_path / "c.png"
    assert main(["compare", str(bad), str(good), "--gt", str(ann), "--n-boot", "300", "--n-perm", "300",
                 "--out", str(out), "--plot", str(plot)]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    comparison = json.loads(out.read_text())
    (model,) = comparison["models"]
    # 4 images allow 16 distinct swaps, so p cannot go below ~1/16 here (tests/evaluation has the p < 0.01 case)
    assert model["delta_mIoU"] > 3 and model["delta_mIoU_ci"][0] > 0 and model["p_value"] <= 0.2
    assert model["delta_mIoU"] == pytest.approx(model["mIoU"] - comparison["baseline"]["mIoU"])
    assert "(baseline)" in printed and plot.stat().st_size > 1000
    assert main(["compare", str(good), str(good), "--gt", str(ann), "--n-boot", "100", "--n-perm", "100"]) == 0
    assert "| +0.00 | [+0.00, +0.00] | 1.0000 |" in capsys.readouterr().out


def test_compare_refuses_other_datasets_and_other_images(folders, tmp_path, capsys):
    ann, good, bad = folders
    main(["score", str(good), str(ann), "--save-stats", str(tmp_path / "a.npz")])
    main(["score", str(bad), str(ann), "--save-stats", str(tmp_path / "b.npz")])
    b = ImageStats.load(tmp_path / "b.npz")
    b.provenance["dataset"]["sha256"] = "0" * 64
    b.save(tmp_path / "b_other.npz")
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "b_other.npz")]) == 1
    line = error_line(capsys)
    assert "b_other.npz: its dataset fingerprint differs from" in line and "pass --force" in line
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "b_other.npz"), "--force", "--n-boot", "50",
                 "--n-perm", "50"]) == 0  # fmt: skip
    fewer = ImageStats.load(tmp_path / "b.npz")
    fewer = ImageStats(fewer.images[:3], fewer.intersect[:3], fewer.pred[:3], fewer.label[:3], fewer.class_names)
    fewer.save(tmp_path / "fewer.npz")
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a.npz"), str(tmp_path / "fewer.npz"), "--force"]) == 1
    assert "covers other images" in error_line(capsys)


def test_aggregate_reports_median_mean_std(folders, tmp_path, capsys):
    ann, good, bad = folders
    paths = []
    for i, folder in enumerate((good, bad, good)):
        paths.append(str(tmp_path / f"run{i}.npz"))
        main(["score", str(folder), str(ann), "--save-stats", paths[-1]])
    capsys.readouterr()
    out = tmp_path / "agg.json"
    assert main(["aggregate", *paths, "--out", str(out)]) == 0
    agg = json.loads(out.read_text())
    runs = [r["mIoU"] for r in agg["runs"]]
    assert agg["mIoU"]["median"] == runs[0] == runs[2] and agg["mIoU"]["min"] == runs[1]
    assert agg["mIoU"]["mean"] == pytest.approx(np.mean(runs)) and agg["mIoU"]["std"] == pytest.approx(np.std(runs, ddof=1))
    assert "| 3 |" in capsys.readouterr().out


def test_leaderboard_ranks_checkpoints_with_intervals(synth_and_model, tmp_path, capsys):
    root, checkpoint = synth_and_model
    second = save_checkpoint(randomize_(build_model(_config_of(checkpoint)), seed=9).eval(), tmp_path / "other.safetensors",
                             classes=ade20k_classes(), run_config=_recipe_of(checkpoint))  # fmt: skip
    out, plot = tmp_path / "board.json", tmp_path / "board.png"
    assert main(["leaderboard", str(checkpoint), str(second), "--data", str(root), "--n-boot", "100",
                 "--out", str(out), "--plot", str(plot), "--stats-dir", str(tmp_path / "stats")]) == 0  # fmt: skip
    board = json.loads(out.read_text())
    assert [r["mIoU"] for r in board["rows"]] == sorted((r["mIoU"] for r in board["rows"]), reverse=True)
    for row in board["rows"]:
        assert row["mIoU_ci"][0] <= row["mIoU"] <= row["mIoU_ci"][1] and row["params_m"] > 0 and row["gflops"] > 0
        assert row["eval_size"] == [64, 80] and row["img_per_s"] > 0
    assert plot.stat().st_size > 1000 and len(list((tmp_path / "stats").glob("*.npz"))) == 2
    assert "| 1 |" in capsys.readouterr().out


def _config_of(checkpoint):
    from swinseg.checkpoints.loading import load_checkpoint

    return load_checkpoint(checkpoint).config


def _recipe_of(checkpoint):
    from swinseg.checkpoints.loading import load_checkpoint

    return load_checkpoint(checkpoint).recipe


def test_one_based_predictions_stop_with_the_option_that_fixes_them(folders, tmp_path, capsys):
    ann, _, _ = folders
    release = _predictions(ann, tmp_path / "release", 0.9, offset=1)  # the ADE20K release convention: 1..150
    assert main(["score", str(release), str(ann)]) == 1
    line = error_line(capsys)
    assert line.startswith(f"swinseg score: error: {release}/") and "prediction values" in line
    assert "--pred-format ade-release" in line
    assert main(["score", str(release), str(ann), "--pred-format", "ade-release", "--out", str(tmp_path / "r.json")]) == 0
    good = json.loads((tmp_path / "r.json").read_text())
    assert main(["score", str(folders[1]), str(ann), "--out", str(tmp_path / "g.json")]) == 0
    assert good["mIoU"] == json.loads((tmp_path / "g.json").read_text())["mIoU"]  # same predictions, same number


def test_annotations_that_contradict_reduce_zero_label(folders, tmp_path, capsys):
    ann, good, _ = folders
    zero_based = tmp_path / "zero_based"
    zero_based.mkdir()
    for path in sorted(ann.glob("*.png")):  # already reduced: classes 0..149, 255 for "other"
        raw = np.array(Image.open(path)).astype(np.int64)
        Image.fromarray(np.where(raw == 0, 255, raw - 1).astype(np.uint8)).save(zero_based / path.name)
    warned = main(["score", str(good), str(zero_based)])
    err = capsys.readouterr().err
    assert warned == 0 and "Traceback" not in err
    (line,) = [line for line in err.splitlines() if "warning" in line]
    assert line.startswith("swinseg score: warning: ") and "hold the ignore index 255" in line
    assert "--no-reduce-zero-label" in line


def test_predict_writes_the_ade_release_format_and_score_reads_it_back(synth_and_model, tmp_path, capsys):
    root, checkpoint = synth_and_model
    images, ann = root / "images/validation", root / "annotations/validation"
    assert main(["predict", str(checkpoint), str(images), "--out", str(tmp_path / "idx"), "--no-progress"]) == 0
    assert main(["predict", str(checkpoint), str(images), "--out", str(tmp_path / "rel"), "--format", "ade-release",
                 "--no-progress"]) == 0  # fmt: skip
    name = sorted(ann.glob("*.png"))[0].name
    indices, release = Image.open(tmp_path / "idx" / name), Image.open(tmp_path / "rel" / name)
    assert indices.mode == "P" and release.mode == "L"
    assert np.array_equal(np.array(release), np.array(indices).astype(np.int64) + 1)
    capsys.readouterr()
    assert main(["score", str(tmp_path / "idx"), str(ann), "--out", str(tmp_path / "a.json")]) == 0
    assert main(["score", str(tmp_path / "rel"), str(ann), "--pred-format", "ade-release",
                 "--out", str(tmp_path / "b.json")]) == 0  # fmt: skip
    assert json.loads((tmp_path / "a.json").read_text())["mIoU"] == json.loads((tmp_path / "b.json").read_text())["mIoU"]
