"""Benchmarking: speed, memory, FLOPs and size scaling of a model beside its peers.

- ``measure``: latency, peak memory, FLOPs, parameters and scaling fits of any image -> logits module.
- ``peers``: the same architecture in Hugging Face transformers and in smp + timm (random weights).
- ``runner``: one run over sizes, batch sizes and implementations (:func:`run_benchmark`), what both
  ``swinseg benchmark`` and ``benchmarks/`` call.
- ``table``: a run's records as Markdown.
"""
