"""Round trips through the foreign layouts that have no installable oracle (official segmentation / mmseg 0.x,
mmseg native), swinseg's own checkpoint, and the strict-loading errors."""

from __future__ import annotations

import pickle
import re
from dataclasses import replace

import pytest
import torch

from swinseg.models.segmentor import SegmentorConfig, build_model
from swinseg.models.swin import relative_position_index, swin_config
from swinseg.checkpoints import CheckpointError, load_checkpoint, load_model, save_checkpoint
from swinseg.checkpoints.formats import detect_format
from tests.conftest import max_abs_diff, randomize_


@pytest.fixture
def toy_upernet():
    cfg = SegmentorConfig(encoder=swin_config("swin_toy"), num_classes=6, decoder_args={"channels": 32},
                          aux_args={"channels": 16})
    return randomize_(build_model(cfg)).eval()


def to_official_seg(model) -> dict:
    """Swin-Transformer-Semantic-Segmentation / mmseg 0.x layout, persistent index buffers included."""
    out = {}
    for k, v in model.state_dict().items():
        k = re.sub(r"^backbone\.out_norms\.(\d)\.", r"backbone.norm\1.", k)
        out[k] = v
        if k.endswith("attn.relative_position_bias_table"):
            M = (int(v.shape[0] ** 0.5) + 1) // 2
            out[k.replace("relative_position_bias_table", "relative_position_index")] = relative_position_index(M)
    return out


def mmseg_unfold_order(x: torch.Tensor) -> torch.Tensor:
    """mmseg's swin_converter: correct_unfold_reduction_order / correct_unfold_norm_order (official -> unfold)."""
    if x.ndim == 2:
        out_c, in_c = x.shape
        return x.reshape(out_c, 4, in_c // 4)[:, [0, 2, 1, 3], :].transpose(1, 2).reshape(out_c, in_c)
    return x.reshape(4, x.shape[0] // 4)[[0, 2, 1, 3], :].transpose(0, 1).reshape(x.shape[0])


def to_mmseg(model) -> dict:
    """mmsegmentation native Swin layout, following mmseg's swin2mmseg converter."""
    out = {}
    for k, v in to_official_seg(model).items():
        if k.startswith("backbone.layers"):
            if ".downsample." in k:
                v = mmseg_unfold_order(v)
            k = k.replace(".attn.", ".attn.w_msa.").replace(".mlp.fc1.", ".ffn.layers.0.0.")
            k = k.replace(".mlp.fc2.", ".ffn.layers.1.").replace("backbone.layers", "backbone.stages", 1)
        k = k.replace("backbone.patch_embed.proj.", "backbone.patch_embed.projection.")
        out[k] = v
    return out


@pytest.mark.parametrize("fmt,export", [("official-seg", to_official_seg), ("mmseg", to_mmseg)])
def test_mmseg_layouts_round_trip(tmp_path, toy_upernet, fmt, export):
    path = tmp_path / "ckpt.pth"
    torch.save({"meta": {"CLASSES": ["a"] * 6}, "state_dict": export(toy_upernet)}, path)
    loaded = load_checkpoint(path)
    model = loaded.model
    assert loaded.source_format == fmt
    got, want = model.config, toy_upernet.config
    assert replace(got.encoder, drop_path_rate=0.0) == replace(want.encoder, drop_path_rate=0.0)
    assert (got.num_classes, got.decoder_args, got.aux_args["channels"]) == (6, {"channels": 32}, 16)
    x = torch.randn(1, 3, 100, 150)
    with torch.no_grad():
        assert max_abs_diff(model(x), toy_upernet(x)) < 1e-5


def test_mmseg_patch_merging_order_is_not_the_identity(toy_upernet):
    # Without the unfold reordering the features differ: the test above would catch a missing permutation.
    sd = to_mmseg(toy_upernet)
    w = sd["backbone.stages.0.downsample.reduction.weight"]
    assert not torch.equal(w, toy_upernet.state_dict()["backbone.layers.0.downsample.reduction.weight"])


def test_swinseg_checkpoint_round_trip_all_decoders(tmp_path):
    for decoder in ["upernet", "unet", "swin_unet", "smp:FPN"]:
        cfg = SegmentorConfig(encoder=swin_config("swin_toy"), decoder=decoder, num_classes=3)
        model = randomize_(build_model(cfg)).eval()
        path = save_checkpoint(model, tmp_path / f"{decoder.replace(':', '_')}.safetensors")
        loaded = load_model(path)
        assert loaded.config == cfg and not loaded.training
        x = torch.randn(1, 3, 64, 64)
        with torch.no_grad():
            assert max_abs_diff(loaded(x), model(x)) == 0.0


def test_save_refuses_to_overwrite_and_leaves_no_temp_files(tmp_path, toy_upernet):
    path = save_checkpoint(toy_upernet, tmp_path / "m.safetensors")
    before = path.read_bytes()
    with pytest.raises(CheckpointError, match="exists already"):
        save_checkpoint(toy_upernet, path)
    assert path.read_bytes() == before
    save_checkpoint(toy_upernet, path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_convert_cli(tmp_path, toy_upernet, capsys):
    from swinseg.cli import main

    src = tmp_path / "mmseg.pth"
    torch.save({"state_dict": to_mmseg(toy_upernet)}, src)
    dst = tmp_path / "out.safetensors"
    assert main(["convert", str(src), str(dst)]) == 0
    assert "mmseg" in capsys.readouterr().out
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert max_abs_diff(load_model(dst)(x), toy_upernet(x)) < 1e-5
    assert main(["convert", str(src), str(dst)]) == 1  # exists: refused, one line on stderr
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exists already" in err


def test_missing_unexpected_and_misshaped_keys_are_reported_together(tmp_path, toy_upernet):
    sd = to_official_seg(toy_upernet)
    del sd["backbone.layers.1.blocks.0.mlp.fc1.weight"]
    sd["backbone.absolute_pos_embed"] = torch.zeros(1, 16, 8, 8)
    sd["decode_head.conv_seg.bias"] = torch.zeros(7)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": sd}, path)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    assert "1 missing (backbone.layers.1.blocks.0.mlp.fc1.weight)" in msg
    assert "1 unexpected (backbone.absolute_pos_embed)" in msg
    assert "decode_head.conv_seg.bias (7 in file, 6 in model)" in msg


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


def test_imagenet_weights_into_another_window_size(tmp_path):
    """Format 1 into a window-12 model: bias tables resized bicubically, heads left initialised."""
    encoder = randomize_(build_model(SegmentorConfig(encoder=swin_config("swin_toy")))).backbone
    sd = {k: v for k, v in encoder.state_dict().items() if not k.startswith("out_norms")}
    sd["head.weight"], sd["norm.weight"] = torch.zeros(10, 128), torch.ones(128)
    path = tmp_path / "imagenet.pth"
    torch.save({"model": sd}, path)
    assert detect_format(torch.load(path, weights_only=True)["model"]) == "microsoft"
    cfg = SegmentorConfig(encoder=swin_config("swin_toy", window_size=12), num_classes=4)
    model = load_model(path, cfg)
    table = model.backbone.layers[0].blocks[0].attn.relative_position_bias_table
    assert table.shape == (23 * 23, 1)
    src = sd["layers.0.blocks.0.attn.relative_position_bias_table"]
    center_src, center_new = src.view(13, 13)[6, 6], table.view(23, 23)[11, 11]
    assert abs(center_src - center_new) < 0.05 * src.abs().max()  # offset 0 stays near offset 0
    assert torch.equal(model.backbone.layers[2].blocks[1].mlp.fc2.weight,
                       sd["layers.2.blocks.1.mlp.fc2.weight"])
    assert sorted(load_checkpoint(path, cfg).dropped_keys) == ["head.weight", "norm.weight"]


def test_imagenet_weights_into_an_smp_model(tmp_path):
    encoder = randomize_(build_model(SegmentorConfig(encoder=swin_config("swin_toy")))).backbone
    sd = {k: v for k, v in encoder.state_dict().items() if not k.startswith("out_norms")}
    path = tmp_path / "imagenet.pth"
    torch.save({"model": sd}, path)
    cfg = SegmentorConfig(encoder=swin_config("swin_toy"), decoder="smp:Unet", num_classes=3, aux_head=False)
    model = load_model(path, cfg)
    assert torch.equal(model.model.encoder.layers[1].blocks[1].attn.qkv.weight, sd["layers.1.blocks.1.attn.qkv.weight"])
