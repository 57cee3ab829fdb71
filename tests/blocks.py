"""A tiny folder dataset and training config for the training, evaluation and CLI tests (72x88 images, 4 classes,
toy Swin); the ``blocks_dataset`` fixture (tests/conftest.py) writes it once a session."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from swinseg.data.config import DataConfig
from swinseg.models.segmentor import SegmentorConfig
from swinseg.models.swin import swin_config
from swinseg.training.config import OptimConfig, TrainConfig


def write_blocks_dataset(root: Path, n_train: int = 8, n_val: int = 2, size: tuple[int, int] = (72, 88)) -> Path:
    """Images of 3 textured blocks on a background (classes 0..3, some pixels 255), as a folder dataset."""
    rng = np.random.default_rng(0)
    h, w = size
    for split, n in (("train", n_train), ("val", n_val)):
        (root / split / "img").mkdir(parents=True)
        (root / split / "ann").mkdir(parents=True)
        for i in range(n):
            mask = np.zeros(size, np.uint8)
            y, x = rng.integers(8, h // 2), rng.integers(8, w // 2)
            mask[:y] = 1
            mask[y:, :x] = 2
            mask[h - 20 :, w - 24 :] = 3
            mask[y - 1 : y + 1] = 255
            img = rng.integers(0, 60, (h, w, 3)).astype(np.uint8)
            img[mask == 1] += np.array([120, 0, 0], np.uint8)
            img[mask == 2] += np.array([0, 120, 0], np.uint8)
            img[mask == 3] += np.array([0, 0, 120], np.uint8)
            Image.fromarray(img).save(root / split / "img" / f"{i}.jpg")
            Image.fromarray(mask).save(root / split / "ann" / f"{i}.png")
    (root / "classes.json").write_text(json.dumps({"classes": ["background", "red", "green", "blue"]}))
    return root


def tiny_config(data_root: Path, work_dir: Path, decoder: str = "upernet", **overrides) -> TrainConfig:
    """A run that takes a second or two per iteration on 2 CPU cores."""
    encoder = swin_config("swin_toy", window_size=4, drop_path_rate=0.1)
    decoder_args = {"upernet": {"channels": 16, "dropout": 0.0}, "swin_unet": {"drop_path_rate": 0.0}}[decoder]
    model = SegmentorConfig(encoder=encoder, decoder=decoder, num_classes=4, decoder_args=decoder_args,
                            aux_head=decoder == "upernet", aux_args={"channels": 8, "dropout": 0.0})  # fmt: skip
    data = DataConfig(
        dataset="folder",
        train_images=str(data_root / "train/img"),
        train_masks=str(data_root / "train/ann"),
        val_images=str(data_root / "val/img"),
        val_masks=str(data_root / "val/ann"),
        classes=str(data_root / "classes.json"),
        crop_size=(64, 64),
        scale=(128, 64),
        batch_size=4,
        num_workers=0,
    )
    fields = dict(model=model, data=data, optim=OptimConfig(lr=1e-3, warmup_iters=2), work_dir=str(work_dir),
                  max_iters=4, checkpoint_every=2, eval_every=100, log_every=1, amp="off", device="cpu")  # fmt: skip
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            setattr(fields[section], name, value)
        else:
            fields[key] = value
    return TrainConfig(**fields)
