"""ONNX export of a segmentor, and a check of the exported graph against PyTorch with onnxruntime.

    image  float32 (N, 3, H, W), normalised like the training images
      -> the whole model (Swin encoder + decode head + final bilinear resize)
      -> logits float32 (N, num_classes, H, W)

With ``dynamic=True`` the batch, height and width are symbolic: the window padding, cyclic shift, shifted-window
mask (built from the padded size) and window partition are all computed from the input's shape inside the
graph, so one file serves every image size, including sizes that are not multiples of 32 * window.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``. It traces the model once and records
every shape computation (``x.shape``, ``//``, ``%``, ``torch.arange``) as ONNX ops, which is exactly what the
padding and masking code needs; it takes seconds. The ``torch.export``-based exporter (``dynamo=True``) does not
work for this model (sizes are symbolic through the window padding arithmetic in every block,
which its symbolic shape reasoning does not finish simplifying). The one op the TorchScript exporter cannot
export with a symbolic input size is adaptive average pooling (UPerNet's pyramid pooling module, pool scales
2, 3, 6): it is replaced during export by :func:`_adaptive_avg_pool2d`, two small pooling matrices.

Needs the optional extra: ``pip install "swinseg[onnx]"`` (onnx, onnxruntime).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from swinseg.core.atomic_write import atomic_write_stream
from swinseg.core.errors import first_line
from swinseg.models.segmentor import SwinsegModel

__all__ = ["DEFAULT_OPSET", "INPUT_NAME", "OUTPUT_NAME", "check_onnx", "export_onnx", "require"]

INPUT_NAME = "image"
OUTPUT_NAME = "logits"
DEFAULT_OPSET = 17  # first opset with LayerNormalization as one op; onnxruntime has supported it since 1.14
MIN_OPSET = 14  # scaled_dot_product_attention
# protobuf cannot serialise a message of 2 GiB or more; bigger models keep their weights in a "<name>.data" file.
SINGLE_FILE_LIMIT = 2**31 - 2**26
DYNAMIC_AXES = {0: "batch", 2: "height", 3: "width"}


def require(module: str) -> ModuleType:
    """Import ``module`` (``onnx`` or ``onnxruntime``), or raise a one-line ImportError saying what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f'ONNX export needs {module}, which is not installed: pip install "swinseg[onnx]"') from None


def external_data_path(path: str | os.PathLike) -> Path:
    """Where the weights of ``path`` go when the model is too big for one ONNX file: ``model.onnx.data``."""
    path = Path(path)
    return path.with_name(path.name + ".data")


# ----------------------------------------------------------------------------------------------------------
# Adaptive average pooling with a symbolic input size
# ----------------------------------------------------------------------------------------------------------


def _pooling_matrix(g, size, out: int):
    """(out, size) float matrix whose row i averages the input positions of adaptive-pooling bin i.

    Bin i covers ``[floor(i * size / out), ceil((i + 1) * size / out))``, as in PyTorch; ``size`` is a 0-d int64
    value of the graph, ``out`` a Python int.
    """
    i = g.op("Constant", value_t=torch.arange(out, dtype=torch.int64).view(out, 1))  # (out, 1)
    out_c = g.op("Constant", value_t=torch.tensor(out, dtype=torch.int64))
    start = g.op("Div", g.op("Mul", i, size), out_c)  # (out, 1): floor(i * size / out)
    end = g.op(  # (out, 1): ceil((i + 1) * size / out) = floor(((i + 1) * size + out - 1) / out)
        "Div",
        g.op("Add", g.op("Mul", g.op("Add", i, g.op("Constant", value_t=torch.tensor(1))), size),
             g.op("Constant", value_t=torch.tensor(out - 1))),
        out_c,
    )
    zero, one = g.op("Constant", value_t=torch.tensor(0)), g.op("Constant", value_t=torch.tensor(1))
    position = g.op("Range", zero, size, one)  # (size,)
    inside = g.op("And", g.op("GreaterOrEqual", position, start), g.op("Less", position, end))  # (out, size)
    count = g.op("Cast", g.op("Sub", end, start), to_i=torch.onnx.TensorProtoDataType.FLOAT)  # (out, 1)
    return g.op("Div", g.op("Cast", inside, to_i=torch.onnx.TensorProtoDataType.FLOAT), count)


def _adaptive_avg_pool2d(g, x, output_size):
    """ONNX for ``F.adaptive_avg_pool2d(x, output_size)`` with symbolic H and W (TorchScript exporter symbolic).

    (N, C, H, W) -> rows (oh, H) @ x -> (N, C, oh, W) -> @ cols^T (W, ow) -> (N, C, oh, ow). The two matrices are
    O(H) and O(W); the built-in symbolic needs a static input size divisible by the output size.
    """
    from torch.onnx import symbolic_helper

    oh, ow = symbolic_helper._parse_arg(output_size, "is")
    shape = g.op("Shape", x)
    height = g.op("Gather", shape, g.op("Constant", value_t=torch.tensor(2)), axis_i=0)  # 0-d
    width = g.op("Gather", shape, g.op("Constant", value_t=torch.tensor(3)), axis_i=0)
    rows = _pooling_matrix(g, height, oh)  # (oh, H)
    cols = _pooling_matrix(g, width, ow)  # (ow, W)
    pooled = g.op("MatMul", rows, x)  # (N, C, oh, W)
    return g.op("MatMul", pooled, g.op("Transpose", cols, perm_i=[1, 0]))  # (N, C, oh, ow)


@contextmanager
def _symbolic_adaptive_pooling(opset: int) -> Iterator[None]:
    """Use :func:`_adaptive_avg_pool2d` for ``aten::adaptive_avg_pool2d`` during one export, then restore."""
    torch.onnx.register_custom_op_symbolic("aten::adaptive_avg_pool2d", _adaptive_avg_pool2d, opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::adaptive_avg_pool2d", opset)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode (logits only, no dropout), its previous mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------------------------


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _in_channels(model: SwinsegModel) -> int:
    return model.config.encoder.in_chans


def _weight_bytes(model: nn.Module) -> int:
    tensors = list(model.parameters()) + list(model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def export_onnx(
    model: SwinsegModel,
    path: str | os.PathLike,
    size: tuple[int, int] = (512, 512),
    dynamic: bool = True,
    opset: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Export ``model`` (images -> logits) to the ONNX file ``path`` and return the path.

    Args:
        model: a segmentor; exported in eval mode on its own device (its mode is restored afterwards).
        path: the ``.onnx`` file. Written atomically; an existing file is replaced only with ``overwrite``.
            Models of 2 GiB or more keep their weights beside it in ``<path>.data`` (ONNX external data).
        size: (H, W) of the example input that is traced.
        dynamic: batch, height and width symbolic (any size works); otherwise the graph takes exactly
            (1, 3, H, W) and onnxruntime rejects other shapes.
        opset: ONNX opset, ``DEFAULT_OPSET`` (17) when None; at least 14.
    """
    onnx = require("onnx")
    path = Path(path)
    opset = DEFAULT_OPSET if opset is None else opset
    if opset < MIN_OPSET:
        raise ValueError(f"{path}: opset {opset} is too old; use {MIN_OPSET} or newer")
    height, width = size
    if height < 1 or width < 1:
        raise ValueError(f"{path}: export size must be positive, got {height}x{width}")
    data_path = external_data_path(path)
    for existing in (path, data_path):
        if existing.exists() and not overwrite:
            raise FileExistsError(f"{existing}: exists already (pass --overwrite to replace it)")

    # A batch of 2 when dynamic, so that nothing specific to a batch of one is traced.
    example = torch.randn(2 if dynamic else 1, _in_channels(model), height, width, device=_model_device(model))
    options = dict(
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_axes={INPUT_NAME: DYNAMIC_AXES, OUTPUT_NAME: DYNAMIC_AXES} if dynamic else None,
        opset_version=opset,
        do_constant_folding=True,
        dynamo=False,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as scratch:
        # The exporter writes big models' weights as one file per tensor beside its output: keep them in scratch.
        traced = Path(scratch) / "traced" / "model.onnx"
        traced.parent.mkdir()
        with _eval_mode(model), torch.no_grad(), _symbolic_adaptive_pooling(opset), warnings.catch_warnings():
            # The TorchScript exporter is deprecated in favour of dynamo=True, which cannot export this model yet.
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*TorchScript-based ONNX export")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            torch.onnx.export(model, (example,), str(traced), **options)
        proto = onnx.load(str(traced))  # with every weight in memory
        # shape inference leaves the class axis of the resized logits unnamed
        _fix_axis(proto.graph.output[0], 1, model.config.num_classes)
        _save(proto, path, scratch=Path(scratch), external=_weight_bytes(model) >= SINGLE_FILE_LIMIT)
    return path


def _fix_axis(value, axis: int, size: int) -> None:
    """Give axis ``axis`` of a graph input / output (an onnx ValueInfoProto) the fixed size ``size``."""
    dim = value.type.tensor_type.shape.dim[axis]
    dim.Clear()
    dim.dim_value = size


def _save(proto, path: Path, scratch: Path, external: bool) -> None:
    """Write ``proto`` to ``path`` atomically; with ``external``, its weights go to ``<path>.data`` first.

    The data file is renamed into place before the graph that points at it is, so a reader never finds a graph
    whose weights are missing or half written. A stale data file of an earlier, bigger export is removed.
    """
    import onnx
    from onnx.external_data_helper import (
        convert_model_to_external_data,
        write_external_data_tensors,
    )

    data_path = external_data_path(path)
    if external:
        convert_model_to_external_data(proto, all_tensors_to_one_file=True, location=data_path.name,
                                       size_threshold=1024)
        write_external_data_tensors(proto, str(scratch))  # scratch/<name>.data; the bytes leave the proto
        os.replace(scratch / data_path.name, data_path)
    else:
        data_path.unlink(missing_ok=True)
    atomic_write_stream(path, lambda f: onnx.save_model(proto, f), overwrite=True)


# ----------------------------------------------------------------------------------------------------------
# Check
# ----------------------------------------------------------------------------------------------------------


def check_sizes(size: tuple[int, int], dynamic: bool) -> list[tuple[int, int, int]]:
    """(N, H, W) inputs that :func:`check_onnx` should try for a model exported at ``size``.

    A static graph only takes its export shape. A dynamic one is also run with a batch of 2 at roughly
    3/4 x 5/4 of the export size, an odd size that no window or stride divides, so padding and masks are used.
    """
    height, width = size
    if not dynamic:
        return [(1, height, width)]
    return [(1, height, width), (2, height * 3 // 4 + 1, width * 5 // 4 + 3)]


def check_onnx(path: str | os.PathLike, model: nn.Module, sizes: Sequence[tuple[int, ...]]) -> float:
    """Run the ONNX file with onnxruntime (CPU) and ``model`` with PyTorch on the same random images.

    Args:
        path: an ONNX file written by :func:`export_onnx`.
        model: the model it was exported from.
        sizes: input sizes to try, each (H, W) or (N, H, W); a static graph only takes its export size.
    Returns:
        The largest absolute difference between the two sets of logits over all sizes.
    """
    ort = require("onnxruntime")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    with _eval_mode(model), torch.no_grad():
        for shape in sizes:
            n, height, width = (1, *shape) if len(shape) == 2 else shape
            image = torch.randn(n, _in_channels(model), height, width, generator=generator)
            expected = model(image.to(_model_device(model))).float().cpu()
            try:
                (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: image.numpy()})
            except Exception as e:  # onnxruntime raises its own exception types
                raise RuntimeError(f"{path}: onnxruntime failed on a {n}x{height}x{width} input ({first_line(e)})") from e
            actual = torch.from_numpy(actual)
            if actual.shape != expected.shape:
                raise RuntimeError(
                    f"{path}: onnxruntime gave logits of shape {tuple(actual.shape)} for a {n}x{height}x{width} "
                    f"input, PyTorch {tuple(expected.shape)}"
                )
            worst = max(worst, (actual - expected).abs().max().item())
    return worst
