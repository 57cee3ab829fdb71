"""Training, evaluation and inference.

- ``config``: the run's dataclasses (``TrainConfig``, ``OptimConfig``) and YAML loading.
- ``train``: the iteration-based training loop (single process or ``torchrun``); ``python -m swinseg.engine``.
- ``checkpoint``: the resumable training state.
- ``distributed``: process group, data order (``StreamSampler``), synchronised BatchNorm on CPU.
- ``inference``: whole-image, sliding-window and multi-scale + flip inference.
- ``evaluate``: metrics of a model on a dataset.
"""
