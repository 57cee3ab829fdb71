"""Reading any supported checkpoint safely, strict loading, and swinseg's own checkpoint file.

A swinseg checkpoint is one ``.safetensors`` file: the model's state dict plus, in the safetensors metadata,
``format = "swinseg"``, ``config`` = the :class:`SegmentorConfig` as JSON and, when known, ``classes`` (names and
palette) and ``run_config`` (the whole resolved training config), so that evaluating or predicting needs only
the checkpoint. Nothing is ever unpickled except through ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from swinseg.data.classes import ClassInfo
from swinseg.files import atomic_write
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import SwinConfig, resize_relative_position_bias_table
from swinseg.weights.formats import CONVERTERS, ENCODER_ONLY_FORMATS, detect_format

__all__ = ["CheckpointError", "convert_checkpoint", "load_model", "read_checkpoint", "save_checkpoint"]

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not fit; the message names the file and the problem."""


@dataclass
class RawCheckpoint:
    path: Path
    state_dict: dict[str, torch.Tensor]
    format: str
    config_json: dict | None = None  # config.json of a Hugging Face / smp directory
    swinseg_config: SegmentorConfig | None = None  # config of a swinseg checkpoint
    classes: ClassInfo | None = None  # class names and palette, when the checkpoint carries them
    run_config: dict | None = None  # the training config (TrainConfig.to_dict()) that produced the weights


# ----------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------


def _load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and (safetensors) metadata of one file."""
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, pickled objects that are not plain tensors / containers, ...
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: cannot be read safely ({first_line})") from e
    return _unwrap(obj, path), {}


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint object (``state_dict`` / ``model`` / ``module.`` wrappers)."""
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: no state dict found")
    tensors = {k.removeprefix("module."): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path}: no tensors found")
    return tensors


def _weights_in_dir(path: Path) -> Path:
    for name in WEIGHT_FILES:
        if (path / name).is_file():
            return path / name
    raise CheckpointError(f"{path}: directory has none of {', '.join(WEIGHT_FILES)}")


def read_checkpoint(path: str | os.PathLike) -> RawCheckpoint:
    """Read a checkpoint file or a Hugging Face / smp model directory and detect its format."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or directory")
    weights = _weights_in_dir(path) if path.is_dir() else path
    config_file = weights.parent / "config.json"
    state_dict, metadata = _load_tensors(weights)

    if metadata.get("format") == "swinseg":
        try:
            config = SegmentorConfig.from_dict(json.loads(metadata["config"]))
            classes = ClassInfo.from_dict(json.loads(metadata["classes"])) if "classes" in metadata else None
            run_config = json.loads(metadata["run_config"]) if "run_config" in metadata else None
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(f"{weights}: swinseg checkpoint with a bad config ({e})") from e
        return RawCheckpoint(weights, state_dict, "swinseg", swinseg_config=config, classes=classes, run_config=run_config)

    config_json = json.loads(config_file.read_text()) if config_file.is_file() else None
    try:
        fmt = detect_format(state_dict)
    except ValueError as e:
        raise CheckpointError(f"{weights}: {e}") from None
    if fmt == "smp" and (config_json is None or "_model_class" not in config_json):
        raise CheckpointError(f"{weights}: smp weights need the config.json saved beside them (with _model_class)")
    if fmt == "hf-upernet" and config_json is not None:
        backbone = (config_json.get("backbone_config") or {}).get("model_type", "swin")
        if backbone != "swin":
            raise CheckpointError(f"{config_file}: UperNet backbone {backbone!r} is not supported (only swin)")
    return RawCheckpoint(weights, state_dict, fmt, config_json=config_json)


# ----------------------------------------------------------------------------------------------------------
# Configs inferred from weights (after conversion to swinseg names)
# ----------------------------------------------------------------------------------------------------------


def infer_swin_config(state_dict: dict[str, torch.Tensor], prefix: str, **overrides) -> SwinConfig:
    """Read every architecture number of the encoder off its tensors' names and shapes."""
    proj = state_dict[prefix + "patch_embed.proj.weight"]  # (C, in_chans, p, p)
    blocks: dict[int, set[int]] = {}
    for k in state_dict:
        m = re.match(re.escape(prefix) + r"layers\.(\d+)\.blocks\.(\d+)\.", k)
        if m:
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    stages = sorted(blocks)
    tables = [state_dict[f"{prefix}layers.{i}.blocks.0.attn.relative_position_bias_table"] for i in stages]
    fc1 = state_dict[f"{prefix}layers.0.blocks.0.mlp.fc1.weight"]
    config = SwinConfig(
        embed_dim=proj.shape[0],
        depths=tuple(len(blocks[i]) for i in stages),
        num_heads=tuple(t.shape[1] for t in tables),
        window_size=(math.isqrt(tables[0].shape[0]) + 1) // 2,
        patch_size=proj.shape[2],
        in_chans=proj.shape[1],
        mlp_ratio=fc1.shape[0] / proj.shape[0],
        qkv_bias=f"{prefix}layers.0.blocks.0.attn.qkv.bias" in state_dict,
        patch_norm=f"{prefix}patch_embed.norm.weight" in state_dict,
        out_norms=f"{prefix}out_norms.0.weight" in state_dict,
    )
    return replace(config, **overrides)


def infer_segmentor_config(state_dict: dict[str, torch.Tensor]) -> SegmentorConfig:
    """UPerNet (+ FCN) config of a segmentation checkpoint in swinseg names."""
    encoder = infer_swin_config(state_dict, "backbone.")
    n_psp = len({k.split(".")[2] for k in state_dict if k.startswith("decode_head.psp_modules.")})
    if n_psp != 4:
        raise ValueError(f"{n_psp} pyramid pooling branches; only the standard pool scales (1, 2, 3, 6) are known")
    decoder_args = {"channels": state_dict["decode_head.fpn_bottleneck.conv.weight"].shape[0]}
    aux_args: dict = {}
    has_aux = "auxiliary_head.conv_seg.weight" in state_dict
    if has_aux:
        first = state_dict["auxiliary_head.convs.0.conv.weight"]  # (channels, in_channels, 3, 3)
        if first.shape[1] not in encoder.channels:
            raise ValueError(f"auxiliary head input of {first.shape[1]} channels matches no encoder stage")
        aux_args = {
            "channels": first.shape[0],
            "num_convs": len({k.split(".")[2] for k in state_dict if k.startswith("auxiliary_head.convs.")}),
            "in_index": encoder.channels.index(first.shape[1]),
        }
    return SegmentorConfig(
        encoder=encoder,
        decoder="upernet",
        num_classes=state_dict["decode_head.conv_seg.weight"].shape[0],
        decoder_args=decoder_args,
        aux_head=has_aux,
        aux_args=aux_args,
    )


def infer_smp_config(state_dict: dict[str, torch.Tensor], config_json: dict) -> SegmentorConfig:
    """smp model config: architecture and decoder kwargs from config.json, encoder from the weights.

    smp's Swin encoders are timm's, which shift before padding and output un-normalised stage features.
    """
    import segmentation_models_pytorch as smp

    arch = config_json["_model_class"]
    model_cls = getattr(smp, arch, None)
    if model_cls is None:
        raise ValueError(f"unknown smp architecture {arch!r}")
    params = inspect.signature(model_cls.__init__).parameters
    skip = {"self", "encoder_name", "encoder_weights", "classes", "in_channels", "kwargs"}
    decoder_args = {k: v for k, v in config_json.items() if k in params and k not in skip}
    encoder = infer_swin_config(state_dict, "encoder.", shift_before_pad=True)
    return SegmentorConfig(
        encoder=encoder,
        decoder=f"smp:{arch}",
        num_classes=int(config_json.get("classes", 1)),
        decoder_args=decoder_args,
        aux_head=False,
    )


# ----------------------------------------------------------------------------------------------------------
# Strict loading
# ----------------------------------------------------------------------------------------------------------


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def _listing(names: list[str], limit: int = 6) -> str:
    more = f", ... {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def load_state_dict_strict(
    model: nn.Module, state_dict: dict[str, torch.Tensor], source: str, optional_prefixes: tuple[str, ...] = ()
) -> None:
    """Load every tensor by name and shape; report all missing, unexpected and mis-shaped ones in one error.

    Relative position bias tables of another window size are resized (bicubic). Names starting with one of
    ``optional_prefixes`` (and BatchNorm ``num_batches_tracked`` counters) may be absent and keep their
    initial values.
    """
    model_sd = model.state_dict()
    state_dict = dict(state_dict)
    for k, v in state_dict.items():
        if k.endswith("relative_position_bias_table") and k in model_sd and v.shape != model_sd[k].shape:
            if v.shape[1] == model_sd[k].shape[1]:  # same heads, other window size
                window = (math.isqrt(model_sd[k].shape[0]) + 1) // 2
                state_dict[k] = resize_relative_position_bias_table(v, window)
    missing = [
        k
        for k in model_sd
        if k not in state_dict and not k.startswith(optional_prefixes) and not k.endswith("num_batches_tracked")
    ]
    unexpected = [k for k in state_dict if k not in model_sd]
    mismatched = [
        f"{k} ({_shape(v)} in file, {_shape(model_sd[k])} in model)"
        for k, v in state_dict.items()
        if k in model_sd and v.shape != model_sd[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing ({_listing(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({_listing(unexpected)})")
    if mismatched:
        problems.append(f"{len(mismatched)} mis-shaped ({_listing(mismatched)})")
    if problems:
        raise CheckpointError(f"{source}: weights do not fit the model: " + "; ".join(problems))
    merged = {**model_sd, **{k: v.to(model_sd[k].dtype) for k, v in state_dict.items()}}
    model.load_state_dict(merged, strict=True)


# ----------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------


def load_model(
    path: str | os.PathLike, config: SegmentorConfig | None = None, device: str | torch.device = "cpu"
) -> nn.Module:
    """A ready model (eval mode) from a checkpoint in any supported format (see :mod:`swinseg.weights.formats`).

    Without ``config`` the architecture is read off the weights (and config.json for smp). Encoder-only
    checkpoints (ImageNet: microsoft, timm, mmseg-pretrain) initialise the encoder of ``config`` (by default
    Swin + UPerNet for the 150 ADE20K classes); its decode heads and its output norms, which those
    checkpoints lack, keep their initialisation. A ``config`` with another window size than the weights gets
    resized relative position bias tables.
    """
    raw = read_checkpoint(path)
    source = f"{raw.path} ({raw.format})"
    optional: tuple[str, ...] = ()
    dropped: list[str] = []
    if raw.format == "swinseg":
        state_dict, inferred = raw.state_dict, raw.swinseg_config
    else:
        try:
            state_dict, dropped = CONVERTERS[raw.format](raw.state_dict)
            if raw.format in ENCODER_ONLY_FORMATS:
                encoder = infer_swin_config(state_dict, "backbone.", out_norms=True)
                inferred = SegmentorConfig(encoder=encoder)
                optional = ("decode_head.", "auxiliary_head.", "backbone.out_norms.")
            elif raw.format == "smp":
                inferred = infer_smp_config(state_dict, raw.config_json)
            else:
                inferred = infer_segmentor_config(state_dict)
        except (KeyError, ValueError) as e:
            raise CheckpointError(f"{source}: cannot read the architecture off the weights ({e})") from e
    if config is None:
        config = inferred
    elif raw.format in ENCODER_ONLY_FORMATS and config.decoder.startswith("smp:"):
        state_dict = {"encoder." + k.removeprefix("backbone."): v for k, v in state_dict.items()}
        optional = ("decoder.", "segmentation_head.", "classification_head.", "encoder.out_norms.")
    model = build_model(config)
    load_state_dict_strict(model, state_dict, source, optional)
    model.source_format = raw.format
    model.classes = raw.classes  # None unless a swinseg checkpoint carries them
    model.run_config = raw.run_config
    model.dropped_keys = dropped  # what the format carries and swinseg does not need (see formats.py)
    return model.to(device).eval()


def save_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    overwrite: bool = False,
    classes: ClassInfo | None = None,
    run_config: dict | None = None,
) -> Path:
    """Write ``model`` (built by swinseg, so it carries ``swinseg_config``) as a swinseg checkpoint, atomically.

    ``classes`` / ``run_config`` default to the model's own (``model.classes`` / ``model.run_config``, set by
    :func:`load_model`), so converting or re-saving keeps them.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise CheckpointError(f"{path}: a swinseg checkpoint must end in .safetensors")
    if path.exists() and not overwrite:
        raise CheckpointError(f"{path}: exists already (pass overwrite=True / --overwrite to replace it)")
    config: SegmentorConfig = model.swinseg_config
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {"format": "swinseg", "config": json.dumps(config.to_dict())}
    classes = classes if classes is not None else getattr(model, "classes", None)
    run_config = run_config if run_config is not None else getattr(model, "run_config", None)
    if classes is not None:
        if len(classes) != config.num_classes:
            raise CheckpointError(f"{path}: {len(classes)} class names for a {config.num_classes}-class model")
        metadata["classes"] = json.dumps(classes.to_dict())
    if run_config is not None:
        metadata["run_config"] = json.dumps(run_config)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata), overwrite=True)
    return path


def convert_checkpoint(
    src: str | os.PathLike, dst: str | os.PathLike, config: SegmentorConfig | None = None, overwrite: bool = False
) -> tuple[Path, nn.Module]:
    """Any supported checkpoint -> swinseg checkpoint (safetensors weights + the model config)."""
    dst = Path(dst)
    if dst.exists() and not overwrite:  # fail before the (slow) conversion
        raise CheckpointError(f"{dst}: exists already (pass --overwrite to replace it)")
    model = load_model(src, config)
    return save_checkpoint(model, dst, overwrite=overwrite), model
