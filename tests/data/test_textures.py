"""The synthetic scenes' textures: every named kind renders, in range, deterministically, and looks unlike the others."""

from __future__ import annotations

import numpy as np
import pytest

from swinseg.data.textures import TEXTURES, smooth_noise, texture


def _render(kind: str, seed: int = 0) -> np.ndarray:
    return np.asarray(texture(np.random.default_rng(seed), kind, 48, 64), np.float32)


@pytest.mark.parametrize("kind", TEXTURES)
def test_every_texture_renders_in_range_and_deterministically(kind):
    p = _render(kind)
    assert p.shape == (48, 64) and np.isfinite(p).all()
    assert -1 < p.min() < 0.5 < p.max() < 2, (p.min(), p.max())  # about [0, 1] (noise tails beyond): scaled by 45-100
    np.testing.assert_array_equal(p, _render(kind))


def test_textures_differ_from_each_other():
    """No two kinds give the same picture from the same generator state (their pixel correlation stays below 0.9)."""
    flat = {k: _render(k, 3).ravel() for k in TEXTURES}
    for i, a in enumerate(TEXTURES):
        for b in TEXTURES[i + 1 :]:
            if flat[a].std() > 1e-3 and flat[b].std() > 1e-3:
                assert abs(np.corrcoef(flat[a], flat[b])[0, 1]) < 0.9, (a, b)
    with pytest.raises(ValueError, match="unknown texture"):
        texture(np.random.default_rng(0), "paisley", 8, 8)


def test_smooth_noise_has_blobs_of_the_given_size():
    fine, coarse = (smooth_noise(np.random.default_rng(0), 64, 64, cell) for cell in (4, 32))
    step = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert step(coarse) < 0.3 * step(fine)
