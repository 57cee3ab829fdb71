"""The public API is ``swinseg`` itself: every name it lists resolves, and importing it is instant."""

from __future__ import annotations

import subprocess
import sys

import pytest

import swinseg


@pytest.mark.parametrize("name", swinseg.__all__)
def test_every_public_name_resolves(name):
    assert getattr(swinseg, name) is not None


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="module 'swinseg' has no attribute 'load_modle'"):
        swinseg.load_modle  # noqa: B018


def test_import_swinseg_loads_no_heavy_package():
    code = ("import sys, swinseg; heavy = ('torch', 'segmentation_models_pytorch', 'timm', 'transformers', "
            "'albumentations'); print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_loading_a_model_leaves_out_smp_timm_and_transformers():
    code = ("import sys, swinseg; swinseg.build_model(swinseg.SegmentorConfig(encoder=swinseg.swin_config("
            "'swin_toy'), num_classes=3)); heavy = ('segmentation_models_pytorch', 'timm', 'transformers'); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
