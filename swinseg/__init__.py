"""swinseg: semantic segmentation with a Swin Transformer encoder and UPerNet / U-Net decoders."""

from swinseg.models import (
    SWIN_VARIANTS,
    Segmentor,
    SegmentorConfig,
    SwinConfig,
    SwinTransformer,
    build_model,
    swin_config,
)
from swinseg.data import DataConfig
from swinseg.engine.config import TrainConfig, load_train_config
from swinseg.engine.evaluate import evaluate
from swinseg.engine.train import train
from swinseg.models.smp_encoder import register_smp_encoders
from swinseg.weights import CheckpointError, convert_checkpoint, load_model, save_checkpoint

__version__ = "0.1.0"

__all__ = [
    "SWIN_VARIANTS",
    "CheckpointError",
    "DataConfig",
    "Segmentor",
    "SegmentorConfig",
    "SwinConfig",
    "SwinTransformer",
    "TrainConfig",
    "build_model",
    "convert_checkpoint",
    "evaluate",
    "load_model",
    "load_train_config",
    "register_smp_encoders",
    "save_checkpoint",
    "swin_config",
    "train",
]
