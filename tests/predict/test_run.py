"""``swinseg predict``: finding inputs, labels equal to ``predict_logits``' argmax at the original size, batching,
sliding windows, skipping, unreadable files, and torchrun sharding.

One tiny randomised model (toy Swin + UPerNet, 5 classes) whose checkpoint carries a recipe with a small test scale
(256, 128) and crop (96, 96), so that a panorama goes through sliding windows; eight images of mixed sizes and
formats in nested folders plus a glob pattern.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import swinseg.inference.strategy as strategy_module
from swinseg.checkpoints.loading import load_model
from swinseg.checkpoints.saving import save_checkpoint
from swinseg.cli import main
from swinseg.data.classes import ClassInfo
from swinseg.data.config import DataConfig
from swinseg.data.io import read_image
from swinseg.data.transforms import IMAGENET_MEAN, IMAGENET_STD, eval_transform
from swinseg.inference import InferenceConfig, predict_logits
from swinseg.models.inference_config import TTA_SCALES
from swinseg.models.segmentor import Segmentor, SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from swinseg.predict import predict_images
from swinseg.training.config import TrainConfig
from tests.conftest import randomize_

REPO = Path(__file__).resolve().parents[2]
CLASSES = ClassInfo(
    ("sky", "tree", "road", "car", "person"), ((70, 130, 180), (0, 150, 0), (128, 64, 128), (0, 0, 142), (220, 20, 60))
)
SCALE, CROP, STRIDE = (256, 128), (96, 96), (64, 64)
FLAGS = ["--overlay", "--confidence", "--probs", "--no-progress"]

# file -> (height, width) as the image is seen (EXIF rotation applied); network input sizes in the comments
IMAGES = {
    "photos/a/one.jpg": (70, 90),  # -> 128 x 165, batched with photos/a/nested/two
    "photos/a/nested/two.png": (70, 90),
    "photos/b/one.jpg": (60, 80),  # -> 128 x 171, batched with photos/b/gray16 (another original size)
    "photos/b/gray16.png": (48, 64),  # 16-bit grayscale
    "photos/b/rotated.jpg": (72, 60),  # stored 60 x 72 with EXIF orientation 6 (a quarter turn) -> 154 x 128
    "photos/big/pano.png": (100, 400),  # -> 64 x 256: wider than 2 x 96, sliding windows
    "extra/c.jpg": (64, 64),  # -> 128 x 128, batched with extra/D
    "extra/D.JPG": (64, 64),  # upper-case suffix
}
STEMS = {name: os.path.splitext(name)[0] for name in IMAGES}  # the output names: relative to the inputs' parent


@contextmanager
def _one_thread():
    """The tiny model gains nothing from threads, and OpenMP threads crawl on a busy 2-core machine; one thread
    also makes this process compute exactly what the torchrun processes (OMP_NUM_THREADS=1) do."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _one_thread_per_test():
    with _one_thread():
        yield


def _picture(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth colour blobs with noise, so that the model's prediction varies over the image."""
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * yy + c) * np.cos(5 * xx - c) for c in (0, 1, 2)], -1)
    return ((base + 1) * 110 + rng.integers(0, 30, (h, w, 3))).clip(0, 255).astype(np.uint8)


def _lively(model: torch.nn.Module) -> torch.nn.Module:
    """With random weights the toy model's logits vary over an image by about 1 % of the gaps between the
    classes' means, so one class wins everywhere and a label comparison would prove little. Re-draw the
    classifier to score each feature's deviation from its mean on a sample picture, in units of its spread:
    logits then vary by several units over an image and the argmax changes from place to place."""
    features = {}
    hook = model.decode_head.conv_seg.register_forward_hook(lambda m, inputs, out: features.setdefault("x", inputs[0]))
    picture = _picture(128, 160, np.random.default_rng(5))
    with torch.no_grad():
        model(eval_transform(SCALE)(image=picture)["image"][None])
        hook.remove()
        mean, spread = features["x"][0].mean((1, 2)), features["x"][0].std((1, 2)) + 1e-3
        weight = torch.randn(len(CLASSES), len(mean), generator=torch.Generator().manual_seed(7)) / spread
        model.decode_head.conv_seg.weight.copy_(weight[:, :, None, None])
        model.decode_head.conv_seg.bias.copy_(-(weight * mean).sum(1))
    return model


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("predict")
    encoder = swin_config("swin_toy")
    config = SegmentorConfig(encoder=encoder, num_classes=len(CLASSES), decoder_args={"channels": 16}, aux_head=False)
    model = _lively(randomize_(build_model(config), seed=3).eval())
    recipe = TrainConfig(model=config, data=DataConfig(crop_size=CROP, scale=SCALE)).to_dict()
    save_checkpoint(model, root / "model.safetensors", classes=CLASSES, run_config=recipe)

    rng = np.random.default_rng(0)
    for name, (h, w) in IMAGES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if "gray16" in name:
            Image.fromarray(_picture(h, w, rng)[..., 0].astype(np.uint16) * 257).save(path)  # mode I;16
        elif "rotated" in name:
            exif = Image.Exif()
            exif[0x0112] = 6  # the stored pixels are turned a quarter: readers turn them back
            Image.fromarray(_picture(w, h, rng)).save(path, exif=exif)
        else:
            Image.fromarray(_picture(h, w, rng)).save(path, format="PNG" if name.endswith(".png") else "JPEG")
    (root / "extra/notes.txt").write_text("not an image")  # the pattern matches it; it is left out
    (root / "photos/.hidden.jpg").write_bytes(b"macOS metadata")  # hidden: left out of folders
    return root


def _inputs(root: Path) -> list[str]:
    return [str(root / "photos"), str(root / "extra" / "*")]


@pytest.fixture(scope="module")
def first_run(workspace):
    """One run over every image with every output, recording the model calls: (out dir, exit code, stdout,
    stderr, [(inference kind, input shape)])."""
    calls = []

    def recording(kind, function):
        def wrapped(model, images, *args, **kwargs):
            calls.append((kind, tuple(images.shape)))
            return function(model, images, *args, **kwargs)

        return wrapped

    out = workspace / "out_single"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(strategy_module, "whole_inference", recording("whole", strategy_module.whole_inference))
        mp.setattr(strategy_module, "slide_inference", recording("slide", strategy_module.slide_inference))
        stdout, stderr = StringIO(), StringIO()  # capsys is function-scoped: catch the CLI's prints here
        with _one_thread(), redirect_stdout(stdout), redirect_stderr(stderr):
            code = main(["predict", str(workspace / "model.safetensors"), *_inputs(workspace), "--out", str(out),
                         *FLAGS])  # fmt: skip
    return out, code, stdout.getvalue(), stderr.getvalue(), calls


def _reference_logits(model: torch.nn.Module, path: Path) -> torch.Tensor:
    """(K, H, W) scores by hand: the evaluation pipeline, then predict_logits one image at a time."""
    image = read_image(path)
    x = eval_transform(SCALE)(image=image)["image"][None]
    mode = "slide" if x.shape[2] > 2 * CROP[0] or x.shape[3] > 2 * CROP[1] else "whole"
    return predict_logits(model, x, image.shape[:2], InferenceConfig(mode, CROP, STRIDE), len(CLASSES))[0]


def _assert_argmax(labels: np.ndarray, logits: torch.Tensor, name: str) -> None:
    """Labels equal the argmax, except where the top two scores are within float rounding of each other."""
    reference = logits.argmax(0).numpy()
    top2 = logits.topk(2, dim=0).values
    differ = labels != reference
    assert not (differ & ((top2[0] - top2[1]).numpy() > 1e-4)).any(), name
    assert differ.mean() < 1e-3, name


# ----------------------------------------------------------------------------------------------------------


def test_labels_equal_predict_logits_at_the_original_size(workspace, first_run):
    out, code, stdout, stderr, calls = first_run
    assert code == 0, stderr
    assert stdout.strip().splitlines()[-1].startswith("8 images written, 0 skipped (exist), 0 failed in ")

    # same-size images went through the model together; only the panorama through sliding windows
    assert ("whole", (2, 3, 128, 165)) in calls and ("whole", (2, 3, 128, 171)) in calls
    assert ("whole", (2, 3, 128, 128)) in calls and ("slide", (1, 3, 64, 256)) in calls
    assert len([c for c in calls if c[0] == "slide"]) == 1 and len(calls) == 5

    model = load_model(workspace / "model.safetensors").eval()
    seen_labels = set()
    for name, (h, w) in IMAGES.items():
        stem = STEMS[name]
        with Image.open(out / f"{stem}.png") as png:
            assert png.mode == "P" and png.size == (w, h), stem
            assert png.getpalette()[:15] == [v for rgb in CLASSES.palette for v in rgb]
            labels = np.asarray(png)
        logits = _reference_logits(model, workspace / name)
        _assert_argmax(labels, logits, stem)
        seen_labels |= set(np.unique(labels).tolist())

        probs = np.load(out / f"{stem}_probs.npz")["probs"]
        assert probs.dtype == np.float16 and probs.shape == (5, h, w)
        np.testing.assert_allclose(probs.astype(np.float32), logits.softmax(0).numpy(), atol=2e-3)
        with Image.open(out / f"{stem}_confidence.png") as conf:
            assert conf.mode == "L" and conf.size == (w, h)
            expected = probs.astype(np.float32).max(0) * 255
            assert np.abs(np.asarray(conf, np.float32) - expected).max() <= 1.0, stem
        with Image.open(out / f"{stem}_overlay.jpg") as over:
            assert over.mode == "RGB" and over.size == (w, h)
    assert len(seen_labels) >= 3  # the randomised model does not paint everything one class
    assert not (out / "photos/.hidden.png").exists() and not (out / "extra/notes.png").exists()


def test_labels_alone_come_from_the_head_logits_through_both_resizes(workspace, tmp_path, monkeypatch):
    """Without --probs / --confidence, whole-mode labels come from the decode head's stride-4 logits, its resize
    to the input and the resize to the image's size composed (resized_argmax's `via`): the same labels."""
    calls = []
    head_logits = Segmentor.head_logits
    monkeypatch.setattr(Segmentor, "head_logits", lambda self, x: calls.append(tuple(x.shape)) or head_logits(self, x))
    out = tmp_path / "labels"
    with _one_thread():
        assert main(["predict", str(workspace / "model.safetensors"), *_inputs(workspace), "--out", str(out),
                     "--no-progress"]) == 0  # fmt: skip
    assert (2, 3, 128, 165) in calls and (2, 3, 128, 171) in calls and len(calls) == 4  # not the panorama
    model = load_model(workspace / "model.safetensors").eval()
    for name in IMAGES:
        labels = np.asarray(Image.open(out / f"{STEMS[name]}.png"))
        _assert_argmax(labels, _reference_logits(model, workspace / name), name)


def test_tta_and_native_resolution_match_predict_logits(workspace, tmp_path, capsys):
    model = load_model(workspace / "model.safetensors").eval()
    common = [str(workspace / "model.safetensors"), str(workspace / "extra" / "*"), "--no-progress", "--workers", "0"]
    assert main(["predict", *common, "--out", str(tmp_path / "tta"), "--tta", "--probs"]) == 0
    assert main(["predict", *common, "--out", str(tmp_path / "native"), "--no-resize"]) == 0
    capsys.readouterr()
    for name in ("c", "D"):
        image = read_image(workspace / {"c": "extra/c.jpg", "D": "extra/D.JPG"}[name])
        x = eval_transform(SCALE)(image=image)["image"][None]
        probs = predict_logits(model, x, image.shape[:2], InferenceConfig("whole", scales=TTA_SCALES, flip=True))[0]
        tta = np.asarray(Image.open(tmp_path / f"tta/{name}.png"))
        _assert_argmax(tta, probs, name)
        saved = np.load(tmp_path / f"tta/{name}_probs.npz")["probs"].astype(np.float32)
        np.testing.assert_allclose(saved, probs.numpy(), atol=1e-3)  # TTA's scores are probabilities already

        mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
        native = ((torch.from_numpy(image).permute(2, 0, 1).float() - mean) / std)[None]  # normalised, not resized
        labels = np.asarray(Image.open(tmp_path / f"native/{name}.png"))
        _assert_argmax(labels, predict_logits(model, native, image.shape[:2])[0], name)


def test_existing_outputs_are_skipped_unless_overwrite(workspace, capsys):
    out = workspace / "out_skip"
    args = ["predict", str(workspace / "model.safetensors"), str(workspace / "extra" / "*"), "--out", str(out),
            "--no-progress", "--workers", "0"]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("2 images written, 0 skipped (exist), 0 failed")
    stamp = (out / "c.png").stat().st_mtime_ns

    assert main(args) == 0
    assert capsys.readouterr().out.startswith("0 images written, 2 skipped (exist), 0 failed")
    assert (out / "c.png").stat().st_mtime_ns == stamp

    assert main([*args, "--overlay"]) == 0  # only the missing overlays are written
    assert capsys.readouterr().out.startswith("2 images written, 0 skipped (exist)")
    assert (out / "c_overlay.jpg").is_file() and (out / "c.png").stat().st_mtime_ns == stamp

    assert main([*args, "--overwrite"]) == 0
    assert capsys.readouterr().out.startswith("2 images written, 0 skipped (exist)")
    assert (out / "c.png").stat().st_mtime_ns != stamp
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temporary files


def test_unreadable_inputs_are_reported_skipped_and_fail_the_exit_status(workspace, tmp_path, capsys):
    (tmp_path / "in").mkdir()
    Image.fromarray(_picture(40, 50, np.random.default_rng(1))).save(tmp_path / "in/good.jpg")
    (tmp_path / "in/x.jpg").write_bytes(np.random.default_rng(2).integers(0, 256, 3000, np.uint8).tobytes())
    whole = (tmp_path / "in/good.jpg").read_bytes()
    (tmp_path / "in/truncated.jpg").write_bytes(whole[: len(whole) // 2])  # the header reads, the pixels do not

    code = main(["predict", str(workspace / "model.safetensors"), str(tmp_path / "in"), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    errors = [line for line in captured.err.splitlines() if ".jpg: " in line]
    assert len(errors) == 2
    assert any(line.startswith(f"{tmp_path / 'in/x.jpg'}: ") and "cannot identify" in line for line in errors)
    assert any(line.startswith(f"{tmp_path / 'in/truncated.jpg'}: ") and "truncated" in line for line in errors)
    assert captured.out.startswith("1 images written, 0 skipped (exist), 2 failed in ")
    assert (tmp_path / "out/good.png").is_file() and not (tmp_path / "out/x.png").exists()


def test_missing_input_is_a_one_line_error_and_help_has_examples(workspace, tmp_path, capsys):
    missing = tmp_path / "nowhere/a.jpg"
    assert main(["predict", str(workspace / "model.safetensors"), str(missing), "--out", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == f"swinseg predict: error: {missing}: no such file or directory\n"
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--help"])
    assert exit_info.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_torchrun_two_processes_write_what_one_process_writes(workspace, first_run):
    """Each process predicts every other batch of a plan made alike on both, so the same images share a forward
    pass as in one process and every file comes out bit for bit the same (one thread in every process)."""
    single = first_run[0]
    double = workspace / "out_double"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command = [*launcher, "-m", "swinseg", "predict", str(workspace / "model.safetensors"), *_inputs(workspace),
               "--out", str(double), "--workers", "1", *FLAGS]  # fmt: skip
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [line for line in proc.stdout.splitlines() if "images written" in line]
    assert len(summaries) == 1 and summaries[0].startswith("8 images written, 0 skipped (exist), 0 failed")

    names = sorted(p.relative_to(single).as_posix() for p in single.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(double).as_posix() for p in double.rglob("*") if p.is_file())
    assert len(names) == 4 * len(IMAGES)
    for name in names:
        if name.endswith(".npz"):  # zip members carry a timestamp: compare the arrays
            assert np.array_equal(np.load(single / name)["probs"], np.load(double / name)["probs"]), name
        else:
            assert (single / name).read_bytes() == (double / name).read_bytes(), name


def test_slide_at_native_size_writes_the_labels_of_slide_inference(workspace, tmp_path, monkeypatch):
    """scale=None and labels only: the windows' labels come from slide_labels, never the whole logits map."""
    model = load_model(workspace / "model.safetensors").eval()
    path = tmp_path / "panorama.png"
    image = np.random.default_rng(0).integers(0, 256, (70, 150, 3), dtype=np.uint8)
    Image.fromarray(image).save(path)
    monkeypatch.setattr(strategy_module, "slide_inference", None)  # must not be called
    summary = predict_images(model, [(path, Path("native"))], tmp_path / "out", CLASSES,
                             InferenceConfig("slide", (48, 48), (32, 32)), scale=None, num_workers=0,
                             progress=False)  # fmt: skip
    assert summary.written == 1
    x = eval_transform(None)(image=image)["image"][None]
    expected = predict_logits(model, x, (70, 150), InferenceConfig("slide", (48, 48), (32, 32)), len(CLASSES))[0]
    with Image.open(tmp_path / "out" / "native.png") as png:
        _assert_argmax(np.asarray(png), expected, "native")
