"""inference.backends: each backend runs the model with its interface, close to eager fp32."""

from __future__ import annotations

import pytest
import torch

from swinseg.inference import InferenceConfig, predict_batch
from swinseg.inference.backends import AutocastModel, prepare_backend
from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import swin_config
from tests.conftest import randomize_


@pytest.fixture(scope="module")
def toy() -> torch.nn.Module:
    config = SegmentorConfig(encoder=swin_config("swin_toy", window_size=4, drop_path_rate=0.0), decoder="unet",
                             num_classes=6, decoder_args={"decoder_channels": (32, 16, 16)}, aux_head=False)  # fmt: skip
    return randomize_(build_model(config), seed=5).eval()


@pytest.mark.parametrize(("backend", "tolerance"), [("eager", 0.0), ("bf16", 0.1), ("int8", 0.1)])
def test_logits_close_to_eager(toy, backend: str, tolerance: float) -> None:
    torch.manual_seed(0)
    image = torch.randn(2, 3, 52, 72)  # not a multiple of the window or of 32
    with torch.inference_mode():
        want = toy(image)
        model = prepare_backend(toy, backend)
        got, head = model(image), model.head_logits(image)
    assert got.dtype == head.dtype == torch.float32 and got.shape == want.shape
    assert head.shape == (2, 6, 13, 18)
    scale = want.abs().max().item()
    assert (got - want).abs().max().item() <= tolerance * scale
    if backend != "eager":
        assert (got - want).abs().max().item() > 0  # it did run another way
    assert (got.argmax(1) == want.argmax(1)).float().mean() > 0.95
    assert model.config == toy.config


def test_int8_quantises_the_encoder_only_and_leaves_the_model_alone(toy) -> None:
    quantized = prepare_backend(toy, "int8")
    assert quantized is not toy
    kinds = {type(m).__module__ for m in quantized.backbone.modules()}
    assert any("quantized" in k for k in kinds)
    assert not any("quantized" in type(m).__module__ for m in quantized.decode_head.modules())
    assert all(type(m).__module__.startswith("torch.nn.modules") or "swinseg" in type(m).__module__
               for m in toy.backbone.modules())  # fmt: skip


def test_backends_go_through_predict_batch(toy) -> None:
    images = torch.randn(1, 3, 48, 64)
    eager = predict_batch(toy, images, [(48, 64)], InferenceConfig(), 6)[0].labels
    for backend in ("bf16", "int8"):
        labels = predict_batch(prepare_backend(toy, backend), images, [(48, 64)], InferenceConfig(), 6)[0].labels
        assert labels.shape == (48, 64) and (labels == eager).mean() > 0.95


def test_unknown_backend_and_training_are_refused(toy) -> None:
    with pytest.raises(ValueError, match="backend: expected one of eager, bf16, int8, compile, got 'fp8'"):
        prepare_backend(toy, "fp8")
    with pytest.raises(ValueError, match="inference only"):
        AutocastModel(toy).train()


def test_compile_backend_equals_eager_compiles_once_a_size_and_caches_on_disk(tmp_path, monkeypatch) -> None:
    """--backend compile: inductor's C++ (gcc) build of the model; the smallest 4-stage model keeps it ~25 s."""
    from torch._dynamo.utils import counters

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    config = SegmentorConfig(encoder=swin_config("swin_toy", depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1),
                                                 window_size=4, drop_path_rate=0.0),
                             decoder="unet", num_classes=6, decoder_args={"decoder_channels": (16,)},
                             aux_head=False)  # fmt: skip
    model = randomize_(build_model(config), seed=3).eval()
    compiled = prepare_backend(model, "compile")
    torch._dynamo.reset()
    counters.clear()
    image, other = torch.randn(2, 1, 3, 32, 48)  # window padding at the coarser stages
    with torch.inference_mode():
        want = model(image)
        got = compiled(image)
        frames = counters["frames"]["ok"]
        again = compiled(other)
    assert frames >= 1 and counters["frames"]["ok"] == frames  # the same size runs what was compiled
    assert got.shape == want.shape and (got - want).abs().max().item() < 1e-5
    assert (again - model(other)).abs().max().item() < 1e-5
    assert any(tmp_path.rglob("*.so")), "inductor wrote no compiled kernels to its cache"
    with pytest.raises(ValueError, match="inference only"):
        compiled.train()
