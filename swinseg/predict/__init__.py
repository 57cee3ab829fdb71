"""Predicting label maps for image files, folders and glob patterns (``swinseg predict``).

- ``inputs``: the command line's arguments -> (image path, output stem) pairs (:func:`collect_inputs`).
- ``plan``: batches of images whose network inputs have the same size (:func:`plan_batches`).
- ``writers``: the files written for each image, written atomically.
- ``run``: :func:`predict_images`, reading, predicting and writing overlapped.
"""

from swinseg.predict.inputs import IMAGE_SUFFIXES, collect_inputs
from swinseg.predict.plan import plan_batches
from swinseg.predict.run import PredictSummary, predict_images
from swinseg.predict.writers import OUTPUTS, output_paths

__all__ = ["IMAGE_SUFFIXES", "OUTPUTS", "PredictSummary", "collect_inputs", "output_paths", "plan_batches",
           "predict_images"]  # fmt: skip
