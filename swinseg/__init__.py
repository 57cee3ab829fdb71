"""swinseg: semantic segmentation with a Swin Transformer encoder and UPerNet / U-Net decoders.

The public API (the README's Python section uses only these):

- models: :class:`SegmentorConfig`, :func:`build_model`, :class:`SwinConfig`, :func:`swin_config`, ...
- checkpoints: :func:`load_model` (the model), :func:`load_checkpoint` (the model and what its file says),
  :func:`save_checkpoint`, :func:`convert_checkpoint`
- inference: :class:`InferenceConfig`, :func:`predict_logits`; evaluation: :func:`evaluate`,
  :func:`score_folder`; prediction: :func:`predict_images`; training: :func:`train`, :func:`load_train_config`

``import swinseg`` imports torch but not smp, timm or transformers: smp loads when a U-Net head or an smp
decoder is built, or when :func:`register_smp_encoders` is called.
"""

from swinseg.checkpoints import (
    CheckpointError,
    LoadedCheckpoint,
    convert_checkpoint,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from swinseg.data import DataConfig
from swinseg.evaluation.evaluate import evaluate
from swinseg.evaluation.metrics import ConfusionMatrix, compute_metrics, results_to_markdown
from swinseg.evaluation.score_folder import score_folder
from swinseg.inference import InferenceConfig, predict_logits
from swinseg.models import (
    SWIN_VARIANTS,
    Segmentor,
    SegmentorConfig,
    SmpSegmentor,
    SwinConfig,
    SwinsegModel,
    SwinTransformer,
    build_model,
    swin_config,
)
from swinseg.predict import collect_inputs, predict_images
from swinseg.training.config import TrainConfig, load_train_config
from swinseg.training.loop import TrainResult, train

__version__ = "0.1.0"

__all__ = [
    "SWIN_VARIANTS",
    "CheckpointError",
    "ConfusionMatrix",
    "DataConfig",
    "InferenceConfig",
    "LoadedCheckpoint",
    "Segmentor",
    "SegmentorConfig",
    "SmpSegmentor",
    "SwinConfig",
    "SwinTransformer",
    "SwinsegModel",
    "TrainConfig",
    "TrainResult",
    "build_model",
    "collect_inputs",
    "compute_metrics",
    "convert_checkpoint",
    "evaluate",
    "load_checkpoint",
    "load_model",
    "load_train_config",
    "predict_images",
    "predict_logits",
    "register_smp_encoders",
    "results_to_markdown",
    "save_checkpoint",
    "score_folder",
    "swin_config",
    "train",
]


def register_smp_encoders() -> list[str]:
    """Make ``swinseg_<variant>`` (and ``_w12``) smp encoder names for every Swin variant (imports smp); see
    :func:`swinseg.models.smp_encoder.register_smp_encoders`."""
    from swinseg.models.smp_encoder import register_smp_encoders as register

    return register()
