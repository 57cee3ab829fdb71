"""Model configs read off the weights of a checkpoint (after conversion to swinseg's parameter names)."""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import replace

import torch

from swinseg.models.segmentor import SegmentorConfig
from swinseg.models.swin import SwinConfig

__all__ = ["infer_segmentor_config", "infer_smp_config", "infer_swin_config"]


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
