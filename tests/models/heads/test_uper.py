"""UPerHead against a hand-written UPerNet flow (PPM, top-down FPN, concatenated levels)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from swinseg.models.heads.uper import UPerHead
from tests.conftest import max_abs_diff, randomize_


def reference_uper_head(head: UPerHead, feats: list[torch.Tensor]) -> torch.Tensor:
    """mmsegmentation's UPerHead.forward written out with the same modules (PPM, top-down, FPN, fuse)."""
    def up(x, like):
        return F.interpolate(x, size=like.shape[2:], mode="bilinear", align_corners=False)

    c4 = feats[3]
    psp = head.bottleneck(torch.cat([c4] + [up(m(c4), c4) for m in head.psp_modules], 1))
    p3 = head.lateral_convs[2](feats[2]) + up(psp, feats[2])
    p2 = head.lateral_convs[1](feats[1]) + up(p3, feats[1])
    p1 = head.lateral_convs[0](feats[0]) + up(p2, feats[0])
    outs = [head.fpn_convs[0](p1), up(head.fpn_convs[1](p2), p1), up(head.fpn_convs[2](p3), p1), up(psp, p1)]
    return head.conv_seg(head.fpn_bottleneck(torch.cat(outs, 1)))


def test_uper_head_flow():
    head = randomize_(UPerHead([16, 32, 64, 128], num_classes=5, channels=32)).eval()
    feats = [torch.randn(1, c, 40 // s, 52 // s) for c, s in zip([16, 32, 64, 128], [1, 2, 4, 8])]
    with torch.no_grad():
        assert max_abs_diff(head(feats), reference_uper_head(head, feats)) < 1e-5




def _plain(module, x: torch.Tensor) -> torch.Tensor:
    """Conv, BatchNorm with the running statistics, ReLU: written out."""
    bn = module.bn
    y = F.conv2d(x, module.conv.weight, padding=module.conv.padding)
    return F.relu(F.batch_norm(y, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps))


def test_conv_module_folds_its_batch_norm_at_inference_and_follows_changes():
    """Folded on maps with more pixels than weights per output channel (kept between passes), plain on smaller
    ones; the same values either way, and a later change to the statistics is seen."""
    from swinseg.models.heads.uper import ConvModule

    torch.manual_seed(0)
    module = randomize_(ConvModule(8, 6, 3)).eval()  # 72 weights per output channel
    large, small = torch.randn(2, 8, 12, 10), torch.randn(2, 8, 6, 6)  # 120 and 36 pixels
    with torch.no_grad():
        for x in (large, small, large):
            assert max_abs_diff(module(x), _plain(module, x)) < 1e-5
        assert module._folded._entries  # the folded weights are kept
        module.bn.running_var.mul_(4)
        assert max_abs_diff(module(large), _plain(module, large)) < 1e-5
