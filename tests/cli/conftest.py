"""Shared by the CLI tests: the first error line printed, and a synthetic ADE20K set with a tiny trained-format checkpoint."""

from __future__ import annotations

import pytest

from swinseg.checkpoints.saving import save_checkpoint
from swinseg.data.classes import ade20k_classes
from swinseg.data.config import DataConfig
from swinseg.data.synth import generate_ade20k
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from swinseg.training.config import TrainConfig
from tests.conftest import randomize_


def error_line(capsys) -> str:
    """The error message: stderr's last line (progress bars may come before it), and no traceback."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def synth_and_model(tmp_path_factory):
    """A 4-image synthetic ADE20K validation split and a random toy 150-class model carrying a small test scale."""
    tmp = tmp_path_factory.mktemp("eval")
    root = generate_ade20k(tmp / "synth", num_train=1, num_val=4, size=(64, 80), progress=False)
    config = SegmentorConfig(encoder=swin_config("swin_toy", window_size=4), num_classes=150,
                             decoder_args={"channels": 16}, aux_head=False)  # fmt: skip
    model = randomize_(build_model(config), seed=3).eval()
    run_config = TrainConfig(model=config, data=DataConfig(root=str(root), scale=(128, 64), crop_size=(48, 48)))
    checkpoint = save_checkpoint(model, tmp / "toy.safetensors", classes=ade20k_classes(), run_config=run_config.to_dict())
    return root, checkpoint
