"""Other implementations of the same model, built with random weights, for ``swinseg benchmark --peers``.

A peer is built from a swinseg :class:`SegmentorConfig`, so it has the same architecture as the swinseg model
it is compared with (same embed_dim, depths, heads, window, classes, decoder channels):

    huggingface   transformers' ``UperNetForSemanticSegmentation`` with a Swin backbone (``upernet`` only)
    smp           segmentation-models-pytorch around timm's Swin (``tu-swin_*`` encoder): ``smp.UPerNet`` for
                  ``upernet``, ``smp.Unet`` for ``unet``, ``smp.<Arch>`` for ``smp:<Arch>``

Every peer is wrapped so that ``peer(images)`` returns logits ``(B, K, H, W)`` in eval mode, as a swinseg model
does. What each runs at inference is what swinseg's model runs:

* swinseg's auxiliary FCN head is a training-only head; Hugging Face's ``forward`` computes its auxiliary head
  even without labels, so :class:`HuggingFaceLogits` calls the backbone and the decode head only (the rest of
  HF's forward: bilinear resize of the logits to the input, align_corners=False, exactly as here).
* timm's Swin is built with ``strict_img_size=False`` (any input size, masks built per forward) and
  ``always_partition=True`` (always 7x7 windows with a shift, padding small maps), as the official
  segmentation backbone and swinseg do. smp itself still requires sizes divisible by 32.

The peer packages are imported only when a peer is built; a missing package or an architecture that a peer
cannot express raises :class:`PeerUnavailable` with the reason.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch import nn

from swinseg.models.segmentor import SegmentorConfig

__all__ = ["PEERS", "HuggingFaceLogits", "PeerUnavailable", "build_peer", "peer_versions"]

PEERS = ("huggingface", "smp")

# timm's name for a Swin with 4x4 patches and 7x7 windows; every architecture number is overridden below.
TIMM_SWIN = "swin_tiny_patch4_window7_224"


class PeerUnavailable(Exception):
    """The peer cannot be built here; ``str(error)`` is the reason (shown in the ``skipped`` record)."""


class HuggingFaceLogits(nn.Module):
    """``UperNetForSemanticSegmentation`` -> logits at the input size, without the auxiliary head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        features = self.model.backbone(pixel_values).feature_maps
        logits = self.model.decode_head(features)
        return F.interpolate(logits, size=pixel_values.shape[2:], mode="bilinear", align_corners=False)


def _require(package: str, peer: str) -> None:
    if importlib.util.find_spec(package) is None:
        raise PeerUnavailable(f"{package} is not installed (pip install {package}) - the {peer} peer needs it")


def peer_versions() -> dict[str, str | None]:
    """Installed versions of the peer packages (None when missing), for the host record."""
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for dist in ("transformers", "segmentation-models-pytorch", "timm"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            versions[dist] = None
    return versions


def _differences(config: SegmentorConfig) -> list[str]:
    """Encoder options that neither peer can turn off (they always have these layers)."""
    notes = []
    if not config.encoder.patch_norm:
        notes.append("the peer's patch embedding has a LayerNorm (swinseg's model has none)")
    return notes


def build_huggingface(config: SegmentorConfig) -> tuple[nn.Module, str, list[str]]:
    """Hugging Face UperNet + Swin with ``config``'s architecture: (model, name, notes)."""
    if config.decoder != "upernet":
        raise PeerUnavailable(f"Hugging Face has UperNet-Swin only; no counterpart for decoder {config.decoder!r}")
    _require("transformers", "huggingface")
    from transformers import SwinConfig as HFSwinConfig
    from transformers import UperNetConfig, UperNetForSemanticSegmentation

    enc, head = config.encoder, config.decoder_args
    notes = _differences(config)
    if not enc.out_norms:
        notes.append("HF's Swin backbone normalises every stage output (swinseg's model does not)")
    if tuple(head.get("pool_scales", (1, 2, 3, 6))) != (1, 2, 3, 6):
        notes.append(f"pool_scales {head['pool_scales']} are passed to HF as well")
    backbone = HFSwinConfig(
        embed_dim=enc.embed_dim,
        depths=list(enc.depths),
        num_heads=list(enc.num_heads),
        window_size=enc.window_size,
        patch_size=enc.patch_size,
        num_channels=enc.in_chans,
        mlp_ratio=enc.mlp_ratio,
        qkv_bias=enc.qkv_bias,
        drop_path_rate=0.0,  # eval mode: no effect
        out_features=[f"stage{i + 1}" for i in range(enc.num_stages)],
    )
    aux = {"in_index": 2, "channels": 256, "num_convs": 1, **config.aux_args}
    hf_config = UperNetConfig(
        backbone_config=backbone,
        num_labels=config.num_classes,
        hidden_size=int(head.get("channels", 512)),
        pool_scales=list(head.get("pool_scales", (1, 2, 3, 6))),
        # Built like swinseg's model so that the parameter counts compare; not run at inference (see above).
        use_auxiliary_head=config.aux_head,
        auxiliary_in_channels=enc.channels[aux["in_index"]],
        auxiliary_channels=int(aux["channels"]),
        auxiliary_num_convs=int(aux["num_convs"]),
    )
    model = UperNetForSemanticSegmentation(hf_config)
    notes.append("auxiliary head not run (HF's forward computes it even without labels)")
    notes.append("HF's Swin backbone keeps its classifier's final LayerNorm (2 x 8C parameters; transformers 5 "
                 "also runs it, its output unused)")
    return HuggingFaceLogits(model), "transformers.UperNetForSemanticSegmentation(swin)", notes


def build_smp(config: SegmentorConfig) -> tuple[nn.Module, str, list[str]]:
    """smp + timm Swin with ``config``'s architecture: (model, name, notes)."""
    _require("segmentation_models_pytorch", "smp")
    _require("timm", "smp")
    import segmentation_models_pytorch as smp

    enc = config.encoder
    notes = _differences(config)
    if enc.out_norms and config.decoder == "unet":
        notes.append("timm's Swin has no per-stage output LayerNorms (swinseg's model has them)")
    timm_args = dict(
        embed_dim=enc.embed_dim,
        depths=tuple(enc.depths),
        num_heads=tuple(enc.num_heads),
        window_size=enc.window_size,
        mlp_ratio=enc.mlp_ratio,
        qkv_bias=enc.qkv_bias,
        drop_path_rate=0.0,
        strict_img_size=False,
        always_partition=True,
    )
    common = dict(encoder_name=f"tu-{TIMM_SWIN}", encoder_weights=None, in_channels=enc.in_chans,
                  classes=config.num_classes, **timm_args)  # fmt: skip
    args = config.decoder_args
    if config.decoder == "upernet":
        if tuple(args.get("pool_scales", (1, 2, 3, 6))) != (1, 2, 3, 6):
            notes.append("smp.UPerNet has fixed pool scales (1, 2, 3, 6)")
        # smp's UPerNet decoder normalises the four features itself: those LayerNorms stand for swinseg's out_norms.
        model = smp.UPerNet(decoder_channels=int(args.get("channels", 512)), **common)
        name = f"smp.UPerNet(tu-{TIMM_SWIN} resized)"
    elif config.decoder == "unet":
        decoder_channels = list(args.get("decoder_channels", (256, 128, 64, 32, 16)))
        interpolation = args.get("interpolation_mode", "nearest")
        model = smp.Unet(decoder_channels=decoder_channels, decoder_interpolation=interpolation, **common)
        name = f"smp.Unet(tu-{TIMM_SWIN} resized)"
    elif config.decoder.startswith("smp:"):
        arch = config.decoder.removeprefix("smp:")
        model = smp.create_model(arch, **common, **args)
        name = f"smp.{arch}(tu-{TIMM_SWIN} resized)"
    else:
        raise PeerUnavailable(f"smp has no counterpart for decoder {config.decoder!r}")
    notes.append("smp requires image sizes divisible by 32")
    return model, name, notes


def build_peer(name: str, config: SegmentorConfig) -> nn.Module:
    """Peer ``name`` (``huggingface`` or ``smp``) with ``config``'s architecture, random weights, eval mode.

    The module maps images (B, 3, H, W) to logits (B, K, H, W); ``peer.peer_name`` describes it and
    ``peer.peer_notes`` lists how it differs from swinseg's model, if at all. Raises :class:`PeerUnavailable`.
    """
    builders = {"huggingface": build_huggingface, "smp": build_smp}
    if name not in builders:
        raise ValueError(f"unknown peer {name!r}; choose from {list(builders)}")
    try:
        model, label, notes = builders[name](config)
    except ImportError as e:  # a package that is installed but broken
        raise PeerUnavailable(f"cannot import what the {name} peer needs ({e})") from e
    model.peer_name = label
    model.peer_notes = notes
    return model.eval()
