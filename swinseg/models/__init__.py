"""Swin encoder, decode heads and the segmentor."""

from swinseg.models.segmentor import DECODERS, Segmentor, SegmentorConfig, build_model
from swinseg.models.swin import SWIN_VARIANTS, SwinConfig, SwinTransformer, swin_config

__all__ = [
    "DECODERS",
    "SWIN_VARIANTS",
    "Segmentor",
    "SegmentorConfig",
    "SwinConfig",
    "SwinTransformer",
    "build_model",
    "swin_config",
]
