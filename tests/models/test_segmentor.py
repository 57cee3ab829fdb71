"""Decode heads and the segmentor: output sizes, training outputs, the head flow against a hand-written UPerHead."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from tests.conftest import max_abs_diff, randomize_


def config(decoder: str, **kw) -> SegmentorConfig:
    args = {"upernet": {"channels": 32}, "unet": {"decoder_channels": (32, 16, 16, 8, 8)}, "swin_unet": {}}
    return SegmentorConfig(encoder=swin_config("swin_toy"), decoder=decoder, num_classes=5,
                           decoder_args=args[decoder], **kw)


@pytest.mark.parametrize("decoder", ["upernet", "unet", "swin_unet"])
@pytest.mark.parametrize("size", [(64, 64), (90, 117)])
def test_logits_at_input_size(decoder, size):
    model = build_model(config(decoder)).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, *size))
    assert logits.shape == (2, 5, *size)
    assert torch.isfinite(logits).all()


def training_loss(logits: torch.Tensor, aux: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    up = lambda x: F.interpolate(x, size=target.shape[1:], mode="bilinear", align_corners=False)  # noqa: E731
    return F.cross_entropy(up(logits), target) + 0.4 * F.cross_entropy(up(aux), target)


def test_training_returns_both_heads_logits_at_their_strides_and_backpropagates():
    model = build_model(config("upernet", aux_args={"channels": 16})).train()
    logits, aux = model(torch.randn(2, 3, 64, 96))
    assert logits.shape == (2, 5, 16, 24)  # stride 4: the loss resizes (swinseg.training.losses)
    assert aux.shape == (2, 5, 4, 6)  # stride 16
    target = torch.randint(0, 5, (2, 64, 96))
    loss = training_loss(logits, aux, target)
    loss.backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.auxiliary_head.convs[0].conv.weight.grad.abs().sum() > 0


def test_auxiliary_head_reads_stage_3_with_256_channels_by_default():
    model = build_model(SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=5))
    first = model.auxiliary_head.convs[0].conv
    assert (first.in_channels, first.out_channels) == (64, 256)
    assert model.decode_head.fpn_bottleneck.conv.out_channels == 512


def test_unknown_decoder_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown decoder 'segformer'"):
        SegmentorConfig(decoder="segformer")


def test_config_round_trips_through_a_dict():
    cfg = config("swin_unet")
    assert SegmentorConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown model config key .num_clases. \(did you mean .num_classes.\?\)"):
        SegmentorConfig.from_dict({**cfg.to_dict(), "num_clases": 3})


def test_checkpointed_training_step_gives_the_same_gradients_and_batchnorm_statistics():
    """Recomputing the encoder and decode head in backward changes neither the gradients (dropout included: the
    RNG state is replayed) nor the BatchNorm running statistics (the recomputation must not count the batch)."""
    x, labels = torch.randn(2, 3, 64, 96), torch.randint(0, 5, (2, 64, 96))
    results = []
    for enable in (False, True):
        model = randomize_(build_model(config("upernet")), seed=0).train()
        model.set_grad_checkpointing(enable)
        torch.manual_seed(1)
        logits, aux = model(x)
        training_loss(logits, aux, labels).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        buffers = {n: b.clone() for n, b in model.named_buffers() if "running" in n or "num_batches" in n}
        results.append((grads, buffers))
    (grads, buffers), (grads_ckpt, buffers_ckpt) = results
    assert grads.keys() == grads_ckpt.keys() and len(grads) > 50
    for name in grads:
        assert max_abs_diff(grads[name], grads_ckpt[name]) < 1e-6, name
    assert buffers.keys() == buffers_ckpt.keys() and len(buffers) > 10
    for name in buffers:
        assert torch.equal(buffers[name], buffers_ckpt[name]), name
    assert buffers["decode_head.fpn_bottleneck.bn.num_batches_tracked"].item() == 1
