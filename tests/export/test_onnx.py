"""``swinseg export``: ONNX graphs that onnxruntime runs at sizes other than the export size, and the CLI's errors.

The sizes are chosen so that no stage is a multiple of the window (7) or of 32: every block pads, and the shifted
window masks differ from those of the export size.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import swinseg.export.onnx
from swinseg.checkpoints.saving import save_checkpoint
from swinseg.cli import main
from swinseg.export.onnx import check_onnx, export_onnx, external_data_path
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from tests.conftest import randomize_

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EXPORT_SIZE = (64, 96)
OTHER_SIZES = [(1, 64, 96), (2, 100, 72), (1, 37, 250)]  # (N, H, W)
DECODER_ARGS = {"upernet": {"channels": 16}, "unet": {"decoder_channels": (16, 16, 8, 8, 8)}, "swin_unet": {}}


def tiny_model(decoder: str = "upernet", seed: int = 0) -> nn.Module:
    config = SegmentorConfig(encoder=swin_config("swin_toy", window_size=7), num_classes=5, decoder=decoder,
                             decoder_args=DECODER_ARGS[decoder], aux_head=False)
    return randomize_(build_model(config), seed).eval()


def onnx_logits(path: Path, image: torch.Tensor) -> torch.Tensor:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(["logits"], {"image": image.numpy()})
    return torch.from_numpy(logits)


def assert_matches_torch(path: Path, model: nn.Module, sizes: list[tuple[int, int, int]]) -> None:
    for n, h, w in sizes:
        image = torch.randn(n, 3, h, w)
        with torch.no_grad():
            expected = model(image)
        actual = onnx_logits(path, image)
        assert actual.shape == expected.shape == (n, 5, h, w)
        assert (actual - expected).abs().max().item() < 1e-4, (n, h, w)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, nn.Module]:
    path = tmp_path_factory.mktemp("ckpt") / "toy.safetensors"
    model = tiny_model("upernet")
    save_checkpoint(model, path)
    return path, model


@pytest.fixture(scope="module")
def dynamic_onnx(checkpoint, tmp_path_factory) -> tuple[Path, str]:
    """The CLI's dynamic export of the UPerNet toy model, checked, and what it printed."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("onnx") / "toy.onnx"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main(["export", str(checkpoint[0]), "--onnx", str(out), "--dynamic", "--check",
                       "--size", *map(str, EXPORT_SIZE)])
    assert status == 0
    return out, stdout.getvalue()


# ----------------------------------------------------------------------------------------------------------
# Dynamic export
# ----------------------------------------------------------------------------------------------------------


def test_dynamic_export_matches_torch_at_other_sizes(checkpoint, dynamic_onnx):
    path, printed = dynamic_onnx
    assert_matches_torch(path, checkpoint[1], OTHER_SIZES)
    line = printed.strip()
    assert "\n" not in line and line.startswith(f"{path}: ")
    assert " MB" in line and "dynamic batch/height/width" in line and "onnxruntime matches PyTorch" in line


def test_graph_names_and_axes(dynamic_onnx):
    graph = onnx.load(str(dynamic_onnx[0])).graph

    def dims(value):
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    assert [(v.name, dims(v)) for v in graph.input] == [("image", ["batch", 3, "height", "width"])]
    assert [(v.name, dims(v)) for v in graph.output] == [("logits", ["batch", 5, "height", "width"])]


def test_graph_stores_no_size_dependent_constants(checkpoint, dynamic_onnx):
    """Masks and paddings are computed in the graph: what it stores is the weights plus small per-window tables."""
    graph = onnx.load(str(dynamic_onnx[0])).graph
    stored = sum(int(np.prod(t.dims)) for t in graph.initializer)
    stored += sum(int(np.prod(a.t.dims)) for node in graph.node if node.op_type == "Constant"
                  for a in node.attribute if a.name == "value")
    model = checkpoint[1]
    weights = sum(t.numel() for t in model.state_dict().values())
    assert stored < 1.1 * weights


@pytest.mark.parametrize("decoder", ["swin_unet", "unet"])
def test_other_decoders_export_dynamically(decoder, tmp_path):
    model = tiny_model(decoder)
    path = export_onnx(model, tmp_path / f"{decoder}.onnx", size=EXPORT_SIZE, dynamic=True)
    assert_matches_torch(path, model, OTHER_SIZES[1:])


@pytest.mark.parametrize("in_size", [(2, 3), (5, 7), (13, 4), (6, 6), (1, 1)])
def test_adaptive_pooling_with_symbolic_size(in_size, tmp_path):
    """UPerNet's pyramid pooling (output 1, 2, 3, 6) on maps smaller and larger than the output, overlapping bins."""

    class Pyramid(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([F.adaptive_avg_pool2d(x, s).flatten(2) for s in (1, 2, 3, 6)], dim=2)

    path = tmp_path / "pool.onnx"
    with swinseg.export.onnx._symbolic_adaptive_pooling(17):
        torch.onnx.export(Pyramid(), (torch.randn(2, 4, 9, 11),), str(path), input_names=["x"], dynamo=False,
                          dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}, opset_version=17)
    x = torch.randn(1, 4, *in_size)
    (actual,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})
    assert np.abs(actual - Pyramid()(x).numpy()).max() < 1e-5


def test_check_onnx_reports_a_different_model(checkpoint, dynamic_onnx):
    assert check_onnx(dynamic_onnx[0], checkpoint[1], [(64, 96)]) < 1e-4
    assert check_onnx(dynamic_onnx[0], tiny_model("upernet", seed=1), [(64, 96)]) > 1e-3


def test_big_models_keep_their_weights_in_a_data_file(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(swinseg.export.onnx, "SINGLE_FILE_LIMIT", 0)
    path = export_onnx(checkpoint[1], tmp_path / "big.onnx", size=EXPORT_SIZE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data"]
    assert external_data_path(path).stat().st_size > path.stat().st_size
    assert_matches_torch(path, checkpoint[1], OTHER_SIZES[1:2])


def test_export_restores_training_mode(tmp_path):
    model = tiny_model("upernet").train()
    export_onnx(model, tmp_path / "m.onnx", size=(32, 32), dynamic=False)
    assert model.training


# ----------------------------------------------------------------------------------------------------------
# Static export
# ----------------------------------------------------------------------------------------------------------


def test_static_export_takes_only_its_size(checkpoint, tmp_path, capsys):
    out = tmp_path / "static.onnx"
    assert main(["export", str(checkpoint[0]), "--onnx", str(out), "--size", "64", "96", "--check"]) == 0
    assert "fixed 1x3x64x96" in capsys.readouterr().out
    assert_matches_torch(out, checkpoint[1], [(1, 64, 96)])
    with pytest.raises(Exception, match="(?i)invalid dimensions"):
        onnx_logits(out, torch.randn(1, 3, 100, 72))


# ----------------------------------------------------------------------------------------------------------
# CLI errors: exit 1 and one line on stderr
# ----------------------------------------------------------------------------------------------------------


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith("swinseg export: error: "), err
    return err


def test_missing_checkpoint(tmp_path, capsys):
    missing = tmp_path / "nope.safetensors"
    assert main(["export", str(missing), "--onnx", str(tmp_path / "m.onnx")]) == 1
    assert str(missing) in error_line(capsys)
    assert not (tmp_path / "m.onnx").exists()


def test_existing_output_is_kept_without_overwrite(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    assert main(["export", str(checkpoint[0]), "--onnx", str(out), "--size", "32", "32"]) == 1
    err = error_line(capsys)
    assert str(out) in err and "--overwrite" in err
    assert out.read_bytes() == b"keep me"
    assert main(["export", str(checkpoint[0]), "--onnx", str(out), "--size", "32", "32", "--overwrite"]) == 0
    assert onnx.load(str(out)).graph.output[0].name == "logits"


def test_existing_output_library_error(checkpoint, tmp_path):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="m.onnx: exists already"):
        export_onnx(checkpoint[1], out, size=(32, 32))
    assert out.read_bytes() == b"keep me"


def test_failed_check_is_one_line(checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("swinseg.cli.export.check_onnx", lambda path, model, sizes: 3e-3)
    out = tmp_path / "m.onnx"
    assert main(["export", str(checkpoint[0]), "--onnx", str(out), "--size", "32", "32", "--check"]) == 1
    assert "differs from PyTorch by 3.00e-03" in error_line(capsys)


def test_missing_onnxruntime_says_what_to_install(checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` raise ImportError
    assert main(["export", str(checkpoint[0]), "--onnx", str(tmp_path / "m.onnx"), "--check"]) == 1
    assert 'pip install "swinseg[onnx]"' in error_line(capsys)


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--dynamic" in out and "(default: [512, 512])" in out
