"""Shared test helpers: tiny configs and randomised weights (nothing is downloaded)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest
import torch
from torch import nn

from swinseg.models.swin import swin_config
from tests.blocks import write_blocks_dataset


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and BatchNorm statistic random values, so that parity tests cannot pass on
    symmetric initialisations (identity LayerNorms, zero biases, unit running variances)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            scale = 0.2 if (p.ndim == 1 or "relative_position_bias_table" in name) else 0.08
            p.copy_(torch.randn(p.shape, generator=g) * scale + (1.0 if name.endswith("norm.weight") else 0.0))
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
    return module


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return (a - b).abs().max().item()


TOY = dict(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4))


@pytest.fixture
def toy_encoder():
    return swin_config("swin_toy")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def blocks_dataset(tmp_path_factory) -> Path:
    return write_blocks_dataset(tmp_path_factory.mktemp("blocks"))


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str):
    """A small tmpfs at ``path`` (needs root and mount rights; skips the test otherwise)."""
    path.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here (tests/core/test_atomic_write.py mocks a full disk instead)")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
