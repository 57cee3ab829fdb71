"""Our Swin under smp's decoders (EncoderMixin contract)."""

from __future__ import annotations

import pytest
import segmentation_models_pytorch as smp
import torch

from swinseg.models.smp_encoder import SmpSwinEncoder, register_smp_encoder, register_smp_encoders
from swinseg.models.swin import swin_config
from tests.conftest import max_abs_diff


def test_registration_is_explicit():
    import segmentation_models_pytorch.encoders as enc

    names = register_smp_encoders()
    assert {"swinseg_swin_t", "swinseg_swin_b_w12", "swinseg_swin_toy"} <= set(names)
    assert enc.encoders["swinseg_swin_b_w12"]["params"]["config"]["window_size"] == 12


@pytest.mark.parametrize("arch", ["Unet", "FPN", "UPerNet", "Segformer", "UnetPlusPlus", "Linknet", "MAnet"])
def test_smp_decoders_build_and_run_on_our_encoder(arch):
    register_smp_encoders()
    model = smp.create_model(arch, encoder_name="swinseg_swin_toy", encoder_weights=None, classes=4).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 4, 64, 96)


def test_encoder_contract_and_features_equal_the_plain_encoder():
    name = register_smp_encoder("swinseg_test_toy", swin_config("swin_toy"))
    model = smp.Unet(name, encoder_weights=None, classes=2)
    encoder = model.encoder.eval()
    assert list(encoder.out_channels) == [3, 0, 16, 32, 64, 128]
    assert encoder.output_stride == 32
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = encoder(x)
        plain = type(encoder).__mro__[1].forward(encoder, x)  # SwinTransformer.forward
    assert [tuple(f.shape) for f in feats] == [(1, 3, 64, 64), (1, 0, 32, 32), (1, 16, 16, 16), (1, 32, 8, 8),
                                              (1, 64, 4, 4), (1, 128, 2, 2)]
    assert all(max_abs_diff(a, b) == 0 for a, b in zip(feats[2:], plain))


def test_dilated_decoders_are_refused_clearly():
    register_smp_encoders()
    with pytest.raises(ValueError, match="no dilated mode"):
        smp.PAN("swinseg_swin_toy", encoder_weights=None, classes=2)


def test_the_torchscript_flag_is_honest():
    """smp's contract: an encoder that cannot be scripted says so (its test suite then skips scripting)."""
    encoder = SmpSwinEncoder(swin_config("swin_toy", window_size=4).to_dict(), depth=5).eval()
    assert SmpSwinEncoder._is_torch_scriptable is False
    with pytest.raises(Exception):  # noqa: B017 - TorchScript raises several kinds of errors
        torch.jit.script(encoder)
    assert SmpSwinEncoder._is_torch_exportable is True
    exported = torch.export.export(encoder, (torch.randn(1, 3, 64, 64),))
    assert [tuple(t.shape) for t in exported.module()(torch.randn(1, 3, 64, 64))] == [
        tuple(t.shape) for t in encoder(torch.randn(1, 3, 64, 64))
    ]


def test_torch_compile_traces_dynamic_sizes_without_graph_breaks():
    """smp's contract check ``torch.compile(encoder, fullgraph=True, dynamic=True, backend="eager")``: one graph
    (no break) in seconds, then other batch and image sizes without recompiling, equal to eager. It used to sit
    for minutes in sympy (nested ``(-H) % M`` sizes through four stages; ceil divisions keep them simple).
    What still recompiles: whether each stage's map is a multiple of the window (the crop after the padded
    windows is then a no-op view, and dynamo guards on it), besides dynamo's own H == W and size-1 guards."""
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    encoder = SmpSwinEncoder(swin_config("swin_toy", window_size=4).to_dict(), depth=5).eval()
    assert SmpSwinEncoder._is_torch_compilable is True
    counter = CompileCounter()
    compiled = torch.compile(encoder, fullgraph=True, dynamic=True, backend=counter)
    frames = []
    with torch.no_grad():
        # windows tile every stage at the first two sizes, not at the third
        for shape in ((2, 3, 256, 384), (3, 3, 384, 640), (2, 3, 231, 170)):
            x = torch.randn(shape)
            got, want = compiled(x), encoder(x)
            assert [g.shape for g in got] == [w.shape for w in want]
            assert all(max_abs_diff(g, w) < 1e-5 for g, w in zip(got[2:], want[2:]))
            frames.append(counter.frame_count)
    assert frames == [1, 1, 2]


@pytest.mark.parametrize("in_channels", [1, 3, 4])
def test_in_channels_as_smp_builds_them(in_channels):
    """smp's contract (its ``BaseEncoderTester.test_in_channels``): ``get_encoder(..., in_channels=k)`` patches
    the first convolution, and the features keep their shapes; ``out_channels[0]`` is the input itself."""
    register_smp_encoders()
    encoder = smp.encoders.get_encoder("swinseg_swin_toy", in_channels=in_channels, depth=5).eval()
    assert encoder.patch_embed.proj.weight.shape[1] == in_channels
    x = torch.randn(2, in_channels, 64, 96)
    with torch.no_grad():
        feats = encoder(x)
    assert encoder.out_channels[0] == in_channels and feats[0] is x
    assert [tuple(f.shape) for f in feats] == [(2, c, 64 // s, 96 // s)
                                              for c, s in zip(encoder.out_channels, (1, 2, 4, 8, 16, 32))]
    model = smp.Unet("swinseg_swin_toy", encoder_weights=None, in_channels=in_channels, classes=3)
    model(x).sum().backward()  # forward and backward through the patched convolution
    assert model.encoder.patch_embed.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_depth_gives_depth_plus_one_features_at_doubling_strides(depth):
    register_smp_encoders()
    encoder = smp.encoders.get_encoder("swinseg_swin_toy", depth=depth).eval()
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 64, 64))
    assert len(feats) == depth + 1 == len(encoder.out_channels)
    assert [tuple(f.shape[1:]) for f in feats] == [(c, 64 >> i, 64 >> i) for i, c in enumerate(encoder.out_channels)]


@pytest.mark.parametrize("depth", [0, 6])
def test_invalid_depth_is_refused(depth):
    register_smp_encoders()
    with pytest.raises(ValueError, match=f"encoder depth must be in \\[1, 5\\], got {depth}"):
        smp.encoders.get_encoder("swinseg_swin_toy", depth=depth)
