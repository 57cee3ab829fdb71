"""Published Swin checkpoint layouts -> swinseg parameter names. Pure functions on state dicts.

Each converter takes the raw state dict of one format and returns ``(state_dict, dropped)``: the tensors
renamed to swinseg's layout and the names of tensors dropped on purpose (only what that format is known to
carry and swinseg does not need). Everything else is kept, so a strict load reports it.

| format           | who publishes it                                              | swinseg model            |
|------------------|---------------------------------------------------------------|--------------------------|
| ``microsoft``    | microsoft/Swin-Transformer ImageNet (``model`` key)           | encoder only             |
| ``official-seg`` | Swin-Transformer-Semantic-Segmentation, mmseg 0.x (``layers``) | UPerNet + FCN            |
| ``mmseg``        | mmsegmentation native Swin (``stages``, ``w_msa``, ``ffn``)     | UPerNet + FCN or encoder |
| ``timm``         | timm ``swin_*`` state dicts                                   | encoder only             |
| ``hf-upernet``   | Hugging Face ``UperNetForSemanticSegmentation`` (Swin)        | UPerNet + FCN            |
| ``smp``          | segmentation-models-pytorch UPerNet with ``tu-swin_*``        | smp.UPerNet, our encoder |

Dropped on purpose: the derived buffers ``relative_position_index`` and ``attn_mask`` (every format); the
ImageNet classifier ``head.*`` / ``head.fc.*`` and final ``norm.*`` (microsoft, timm, mmseg-pretrain); Hugging
Face's unused final ``layernorm.*``.
"""

from __future__ import annotations

import re

import torch

__all__ = ["CONVERTERS", "ENCODER_ONLY_FORMATS", "detect_format"]

DERIVED_BUFFERS = ("relative_position_index", "attn_mask", "relative_coords_table")
ENCODER_ONLY_FORMATS = frozenset({"microsoft", "timm", "mmseg-encoder"})

Converted = tuple[dict[str, torch.Tensor], list[str]]


def detect_format(state_dict: dict[str, torch.Tensor]) -> str:
    """Name of the layout of an (unwrapped) state dict, or ValueError when none fits."""
    keys = set(state_dict)

    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if has("backbone.embeddings.patch_embeddings."):
        return "hf-upernet"
    if has("encoder.model.patch_embed.") and has("encoder.model.layers_"):
        return "smp"
    if has("backbone.stages."):
        return "mmseg"
    if has("stages.") and has("patch_embed.projection."):
        return "mmseg-encoder"
    if has("backbone.layers.") and has("backbone.patch_embed.proj."):
        return "official-seg"
    if has("layers.") and has("patch_embed.proj."):
        # The official code merges patches at the end of a stage (stage 0 has a downsample), timm at the start.
        return "microsoft" if has("layers.0.downsample.") else "timm"
    raise ValueError("no Swin checkpoint layout recognised (expected microsoft, mmseg, timm, HF or smp keys)")


def _drop_derived(state_dict: dict[str, torch.Tensor], dropped: list[str]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in state_dict.items():
        if k.endswith(DERIVED_BUFFERS):
            dropped.append(k)
        else:
            out[k] = v
    return out


def _split_prefix(state_dict: dict[str, torch.Tensor], prefix: str) -> tuple[dict, dict]:
    inside = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    outside = {k: v for k, v in state_dict.items() if not k.startswith(prefix)}
    return inside, outside


def _drop_classifier(state_dict: dict[str, torch.Tensor], dropped: list[str]) -> dict[str, torch.Tensor]:
    """Drop the ImageNet head and the final norm that only feeds it."""
    keep = {}
    for k, v in state_dict.items():
        if k.startswith(("head.", "norm.")):
            dropped.append(k)
        else:
            keep[k] = v
    return keep


def _official_encoder(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Official names -> swinseg: only the output norms are renamed (``norm{i}`` -> ``out_norms.{i}``)."""
    return {re.sub(r"^norm(\d+)\.", r"out_norms.\1.", k): v for k, v in state_dict.items()}


def _with_prefix(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {prefix + k: v for k, v in state_dict.items()}


def convert_microsoft(state_dict: dict[str, torch.Tensor]) -> Converted:
    dropped: list[str] = []
    sd = _drop_classifier(_drop_derived(state_dict, dropped), dropped)
    return _with_prefix(_official_encoder(sd), "backbone."), dropped


def convert_official_seg(state_dict: dict[str, torch.Tensor]) -> Converted:
    """``backbone.*`` in official names; ``decode_head.*`` / ``auxiliary_head.*`` already use swinseg's."""
    dropped: list[str] = []
    backbone, rest = _split_prefix(_drop_derived(state_dict, dropped), "backbone.")
    return {**_with_prefix(_official_encoder(backbone), "backbone."), **rest}, dropped


def timm_to_official(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm merges patches at the start of stage i+1; the official code at the end of stage i."""

    def rename(k: str) -> str:
        k = re.sub(r"^layers_(\d+)\.", r"layers.\1.", k)  # timm features_only modules (as in smp)
        return re.sub(r"^layers\.(\d+)\.downsample\.", lambda m: f"layers.{int(m.group(1)) - 1}.downsample.", k)

    return {rename(k): v for k, v in state_dict.items()}


def convert_timm(state_dict: dict[str, torch.Tensor]) -> Converted:
    dropped: list[str] = []
    sd = _drop_classifier(_drop_derived(state_dict, dropped), dropped)
    return _with_prefix(_official_encoder(timm_to_official(sd)), "backbone."), dropped


def _unfold_to_official(x: torch.Tensor) -> torch.Tensor:
    """Patch-merging weights from mmseg's ``nn.Unfold`` channel order to the official concat order.

    Unfold orders the 4C inputs as ``c * 4 + (dy * 2 + dx)``; the official concat as ``k * C + c`` with
    k = 0: (0, 0), 1: (1, 0), 2: (0, 1), 3: (1, 1) in (dy, dx). The permutation [0, 2, 1, 3] maps one to the
    other and is its own inverse. Works on the last dimension (reduction weight rows, norm vectors).
    """
    *lead, four_c = x.shape
    x = x.reshape(*lead, four_c // 4, 4)[..., [0, 2, 1, 3]]  # (..., C, 4) with k in official order
    return x.transpose(-1, -2).reshape(*lead, four_c)  # (..., 4, C) -> (..., 4C)


def _mmseg_encoder(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in state_dict.items():
        k = k.replace("patch_embed.projection.", "patch_embed.proj.")
        k = re.sub(r"^stages\.", "layers.", k)
        k = k.replace(".attn.w_msa.", ".attn.").replace(".ffn.layers.0.0.", ".mlp.fc1.")
        k = k.replace(".ffn.layers.1.", ".mlp.fc2.")
        if ".downsample." in k:
            v = _unfold_to_official(v)
        out[k] = v
    return _official_encoder(out)


def convert_mmseg(state_dict: dict[str, torch.Tensor]) -> Converted:
    dropped: list[str] = []
    backbone, rest = _split_prefix(_drop_derived(state_dict, dropped), "backbone.")
    return {**_with_prefix(_mmseg_encoder(backbone), "backbone."), **rest}, dropped


def convert_mmseg_encoder(state_dict: dict[str, torch.Tensor]) -> Converted:
    """mmseg's converted ImageNet weights (``swin2mmseg``): the backbone alone, without prefix."""
    dropped: list[str] = []
    sd = _drop_classifier(_drop_derived(state_dict, dropped), dropped)
    return _with_prefix(_mmseg_encoder(sd), "backbone."), dropped


# Hugging Face (names as save_pretrained writes them, i.e. the hub checkpoints), applied in order.
_HF_RENAMES = [
    (r"^backbone\.embeddings\.patch_embeddings\.projection\.", "backbone.patch_embed.proj."),
    (r"^backbone\.embeddings\.norm\.", "backbone.patch_embed.norm."),
    (r"^backbone\.encoder\.layers\.", "backbone.layers."),
    (r"\.layernorm_before\.", ".norm1."),
    (r"\.layernorm_after\.", ".norm2."),
    (r"\.attention\.self\.relative_position_bias_table$", ".attn.relative_position_bias_table"),
    (r"\.attention\.output\.dense\.", ".attn.proj."),
    (r"\.intermediate\.dense\.", ".mlp.fc1."),
    (r"\.output\.dense\.", ".mlp.fc2."),
    (r"^backbone\.hidden_states_norms\.stage(\d+)\.", lambda m: f"backbone.out_norms.{int(m.group(1)) - 1}."),
    (r"\.batch_norm\.", ".bn."),
    (r"^(decode_head|auxiliary_head)\.classifier\.", r"\1.conv_seg."),
]


def convert_hf_upernet(state_dict: dict[str, torch.Tensor]) -> Converted:
    dropped: list[str] = []
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}  # block prefix + param -> {"query": ..., "key": ..., "value": ...}
    for k, v in _drop_derived(state_dict, dropped).items():
        if re.match(r"^backbone\.(swin\.)?layernorm\.", k):  # final norm of the classifier model, unused
            dropped.append(k)
            continue
        for pattern, repl in _HF_RENAMES:
            k = re.sub(pattern, repl, k)
        m = re.match(r"^(.*)\.attention\.self\.(query|key|value)\.(weight|bias)$", k)
        if m:
            qkv.setdefault(f"{m.group(1)}.attn.qkv.{m.group(3)}", {})[m.group(2)] = v
        else:
            out[k] = v
    for k, parts in qkv.items():
        if set(parts) != {"query", "key", "value"}:
            raise ValueError(f"{k}: query/key/value incomplete (found {sorted(parts)})")
        out[k] = torch.cat([parts["query"], parts["key"], parts["value"]], dim=0)
    return out, dropped


def convert_smp(state_dict: dict[str, torch.Tensor]) -> Converted:
    """smp's timm-universal Swin (``encoder.model.layers_{i}``) -> our smp encoder (``encoder.layers.{i}``)."""
    dropped: list[str] = []
    encoder, rest = _split_prefix(_drop_derived(state_dict, dropped), "encoder.model.")
    return {**_with_prefix(timm_to_official(encoder), "encoder."), **rest}, dropped


CONVERTERS = {
    "microsoft": convert_microsoft,
    "official-seg": convert_official_seg,
    "mmseg": convert_mmseg,
    "mmseg-encoder": convert_mmseg_encoder,
    "timm": convert_timm,
    "hf-upernet": convert_hf_upernet,
    "smp": convert_smp,
}
