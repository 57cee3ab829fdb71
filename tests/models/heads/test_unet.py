"""The U-Net head: as many decoder blocks as ``decoder_channels``, each halving the stride from 32."""

from __future__ import annotations

import pytest
import torch

from swinseg.inference.logits import predict_logits
from swinseg.models.heads.unet import UnetHead
from swinseg.models.inference_config import InferenceConfig
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config

STAGES = (16, 32, 64, 128)  # channels at strides 4, 8, 16, 32


def _features(h: int = 64, w: int = 96) -> list[torch.Tensor]:
    return [torch.randn(2, c, h // s, w // s) for c, s in zip(STAGES, (4, 8, 16, 32))]


@pytest.mark.parametrize(("channels", "stride"), [((32, 16, 16, 8, 8), 1), ((32, 16, 16), 4), ((32,), 16)])
def test_each_block_halves_the_stride(channels, stride):
    head = UnetHead(STAGES, num_classes=5, decoder_channels=channels).eval()
    with torch.no_grad():
        out = head(_features())
    assert out.shape == (2, 5, 64 // stride, 96 // stride)
    assert len(head.decoder.blocks) == len(channels)


def test_block_counts_outside_1_to_5_are_refused():
    for channels in ((), (8,) * 6):
        with pytest.raises(ValueError, match="1 to 5 blocks"):
            UnetHead(STAGES, num_classes=5, decoder_channels=channels)


def test_a_stride_4_unet_predicts_at_full_size():
    """The demo's three-block head: inference upsamples its stride-4 logits to the requested size."""
    torch.manual_seed(0)
    config = SegmentorConfig(encoder=swin_config("swin_toy", window_size=4), decoder="unet", num_classes=5,
                             decoder_args={"decoder_channels": (32, 16, 16)}, aux_head=False)  # fmt: skip
    model = build_model(config).eval()
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert model.head_logits(image).shape == (1, 5, 16, 16)
        assert model(image).shape == (1, 5, 64, 64)  # eval mode resizes to the input
        logits = predict_logits(model, image, (48, 80), InferenceConfig(), 5)
    assert logits.shape == (1, 5, 48, 80)


def _smp_forward(head: UnetHead, features: list[torch.Tensor]) -> torch.Tensor:
    """What the head computed before its coarse-grid convolutions: smp's UnetDecoder as smp runs it."""
    s4 = features[0]
    B, _, h, w = s4.shape
    placeholders = [s4.new_empty(B, 0, 4 * h, 4 * w), s4.new_empty(B, 0, 2 * h, 2 * w)]
    return head.conv_seg(head.decoder([*placeholders, *features]))


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize(("h", "w"), [(64, 96), (72, 40), (66, 100)])  # 66 x 100: odd stage sizes, smp's path
def test_the_same_logits_as_smps_decoder(h: int, w: int, training: bool) -> None:
    torch.manual_seed(0)
    head = UnetHead(STAGES, num_classes=5, decoder_channels=(32, 16, 16, 8, 8)).train(training)
    for m in head.modules():  # non-trivial BatchNorm statistics and affine parameters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2), m.weight.data.uniform_(0.5, 2)
    sizes = [(-(-h // s), -(-w // s)) for s in (4, 8, 16, 32)]  # Swin's ceil sizes
    features = [torch.randn(2, c, *hw) for c, hw in zip(STAGES, sizes)]
    with torch.no_grad():
        want = _smp_forward(head, features)
        got = head(features)
    assert got.shape == want.shape == (2, 5, 4 * sizes[0][0], 4 * sizes[0][1])
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_gradients_match_smps_decoder() -> None:
    torch.manual_seed(0)
    head = UnetHead(STAGES, num_classes=3, decoder_channels=(16, 8, 8, 8, 4)).train()
    features = [torch.randn(1, c, 32 // s, 32 // s) for c, s in zip(STAGES, (1, 2, 4, 8))]
    grads = []
    for forward in (_smp_forward, lambda hd, f: hd(f)):
        head.zero_grad()
        forward(head, features).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in head.named_parameters()})
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-3, atol=1e-6, msg=name)


def test_weights_made_under_inference_mode_run_and_follow_in_place_changes() -> None:
    """Weights converted inside ``torch.inference_mode`` are inference tensors (no version counter): the head runs
    them, with its coarse-grid kernels recomputed each pass so that an in-place change is seen."""
    torch.manual_seed(0)
    head = UnetHead(STAGES, num_classes=4, decoder_channels=(16, 8, 8)).eval()
    features = _features(64, 64)
    with torch.inference_mode():
        converted = UnetHead(STAGES, num_classes=4, decoder_channels=(16, 8, 8)).eval()
        converted.load_state_dict({k: v.clone() for k, v in head.state_dict().items()})
        converted = converted.to(memory_format=torch.channels_last)  # new (inference) parameter tensors
        assert converted.decoder.blocks[0].conv1[0].weight.is_inference()
        torch.testing.assert_close(converted(features), _smp_forward(head, features), rtol=1e-4, atol=1e-4)
        converted.decoder.blocks[0].conv1[0].weight.mul_(2)
        with torch.no_grad():
            head.decoder.blocks[0].conv1[0].weight.mul_(2)
        torch.testing.assert_close(converted(features), _smp_forward(head, features), rtol=1e-4, atol=1e-4)


def test_folded_batch_norms_follow_changed_statistics_and_training() -> None:
    """At inference the BatchNorms are folded into the convolutions and kept between passes: a later change of
    the running statistics (in place, as training makes it) or a switch to training mode is seen."""
    torch.manual_seed(0)
    head = UnetHead(STAGES, num_classes=4, decoder_channels=(16, 8, 8, 8, 4)).eval()
    features = _features(64, 64)
    with torch.no_grad():
        first = head(features)
        torch.testing.assert_close(first, _smp_forward(head, features), rtol=1e-4, atol=1e-4)
        for m in head.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.add_(0.5), m.running_var.mul_(3)
        changed = head(features)
        assert (changed - first).abs().max() > 1e-2
        torch.testing.assert_close(changed, _smp_forward(head, features), rtol=1e-4, atol=1e-4)
        head.train()
        torch.testing.assert_close(head(features), _smp_forward(head, features), rtol=1e-4, atol=1e-4)
