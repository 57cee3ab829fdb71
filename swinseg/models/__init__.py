"""Swin encoder, decode heads (``heads/``), the operations they are built from (``ops/``), the segmentor and
its config, the inference settings that travel with it, and smp models around our Swin."""

from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import (
    DECODERS,
    Segmentor,
    SegmentorConfig,
    SmpSegmentor,
    SwinsegModel,
    build_model,
)
from swinseg.models.swin import SWIN_VARIANTS, SwinConfig, SwinTransformer, swin_config

__all__ = [
    "DECODERS",
    "SWIN_VARIANTS",
    "InferenceConfig",
    "Segmentor",
    "SegmentorConfig",
    "SmpSegmentor",
    "SwinConfig",
    "SwinTransformer",
    "SwinsegModel",
    "build_model",
    "swin_config",
]
