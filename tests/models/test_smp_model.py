"""SmpSegmentor: an smp model around our Swin with Segmentor's interface and smp's own parameter names."""

from __future__ import annotations

import pytest
import torch

from swinseg.models.segmentor import (
    Segmentor,
    SegmentorConfig,
    SmpSegmentor,
    build_model,
)
from swinseg.models.swin import swin_config
from tests.conftest import max_abs_diff, randomize_


@pytest.fixture
def unet():
    config = SegmentorConfig(encoder=swin_config("swin_toy"), decoder="smp:Unet", num_classes=3,
                             decoder_args={"decoder_channels": [32, 16, 16, 8, 8]}, aux_head=False)  # fmt: skip
    return randomize_(build_model(config)).eval()


def test_state_dict_has_smp_names_and_loads_back(unet):
    assert isinstance(unet, SmpSegmentor) and unet.config.decoder == "smp:Unet"
    names = list(unet.state_dict())
    assert names == list(unet.model.state_dict())  # no wrapper prefix: checkpoints are smp's layout
    assert names[0].startswith("encoder.") and any(n.startswith("segmentation_head.") for n in names)
    other = build_model(unet.config).eval()
    other.load_state_dict(unet.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert max_abs_diff(other(x), unet(x)) == 0.0


def test_same_interface_as_segmentor(unet):
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        assert torch.equal(unet.head_logits(x), unet(x)) and unet(x).shape == (2, 3, 64, 96)
    unet.set_grad_checkpointing(True)
    assert all(stage.grad_checkpointing for stage in unet.model.encoder.layers)
    for method in ("head_logits", "set_grad_checkpointing"):
        assert callable(getattr(Segmentor, method)) and callable(getattr(SmpSegmentor, method))
