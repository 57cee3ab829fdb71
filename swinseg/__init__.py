"""swinseg: semantic segmentation with a Swin Transformer encoder and UPerNet / U-Net decoders.

The public API (the README's Python section uses only these):

- models: :class:`SegmentorConfig`, :func:`build_model`, :class:`SwinConfig`, :func:`swin_config`, ...
- checkpoints: :func:`load_model` (the model), :func:`load_checkpoint` (the model and what its file says),
  :func:`save_checkpoint`, :func:`convert_checkpoint`
- inference: :class:`InferenceConfig`, :func:`predict_logits`; evaluation: :func:`evaluate`,
  :func:`score_folder`, per-image :class:`ImageStats` (:func:`evaluate_images`, :func:`score_folder_images`),
  :func:`bootstrap_intervals`, :func:`compare_stats`; prediction: :func:`predict_images`; training: :func:`train`, :func:`load_train_config`

``import swinseg`` imports nothing heavy: each name loads its module on first use (torch with the first of them;
smp, timm and transformers never, until a U-Net head or an smp decoder is built or :func:`register_smp_encoders`
is called).
"""

import importlib

# name -> the module that defines it; imported on first use (PEP 562), so that `import swinseg` is instant and
# a script pays only for what it touches (torch, albumentations; smp only for U-Net / smp decoders)
_EXPORTS = {
    "CheckpointError": "swinseg.checkpoints",
    "LoadedCheckpoint": "swinseg.checkpoints",
    "convert_checkpoint": "swinseg.checkpoints",
    "load_checkpoint": "swinseg.checkpoints",
    "load_model": "swinseg.checkpoints",
    "save_checkpoint": "swinseg.checkpoints",
    "DataConfig": "swinseg.data.config",
    "evaluate": "swinseg.evaluation.evaluate",
    "evaluate_images": "swinseg.evaluation.evaluate",
    "ImageStats": "swinseg.evaluation.image_stats",
    "bootstrap_intervals": "swinseg.evaluation.bootstrap",
    "compare_stats": "swinseg.evaluation.bootstrap",
    "ConfusionMatrix": "swinseg.evaluation.metrics",
    "compute_metrics": "swinseg.evaluation.metrics",
    "results_to_markdown": "swinseg.evaluation.metrics",
    "score_folder": "swinseg.evaluation.score_folder",
    "score_folder_images": "swinseg.evaluation.score_folder",
    "InferenceConfig": "swinseg.inference",
    "predict_logits": "swinseg.inference",
    "SWIN_VARIANTS": "swinseg.models",
    "Segmentor": "swinseg.models",
    "SegmentorConfig": "swinseg.models",
    "SmpSegmentor": "swinseg.models",
    "SwinConfig": "swinseg.models",
    "SwinsegModel": "swinseg.models",
    "SwinTransformer": "swinseg.models",
    "build_model": "swinseg.models",
    "swin_config": "swinseg.models",
    "collect_inputs": "swinseg.predict",
    "predict_images": "swinseg.predict",
    "TrainConfig": "swinseg.training.config",
    "load_train_config": "swinseg.training.config",
    "TrainResult": "swinseg.training.loop",
    "train": "swinseg.training.loop",
}

__version__ = "0.1.0"

__all__ = sorted([*_EXPORTS, "register_smp_encoders"])


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'swinseg' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def register_smp_encoders() -> list[str]:
    """Make ``swinseg_<variant>`` (and ``_w12``) smp encoder names for every Swin variant (imports smp); see
    :func:`swinseg.models.smp_encoder.register_smp_encoders`."""
    from swinseg.models.smp_encoder import register_smp_encoders as register

    return register()
