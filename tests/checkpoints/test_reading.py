"""Safe reading: pickled objects are never executed; unknown layouts and missing files are one-line errors."""

from __future__ import annotations

import pickle

import pytest
import torch

from swinseg.checkpoints import (
    CheckpointError,
    load_model,
)


def test_pickled_objects_are_never_executed(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("executed!",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Payload()}, f)
    with pytest.raises(CheckpointError, match="cannot be read safely"):
        load_model(path)


def test_unknown_layout_and_missing_files(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="no Swin checkpoint layout recognised"):
        load_model(path)
    with pytest.raises(CheckpointError, match="no such file"):
        load_model(tmp_path / "nope.pth")
    with pytest.raises(CheckpointError, match="directory has none of"):
        load_model(tmp_path)


