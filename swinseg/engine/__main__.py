"""Train from a config file: ``python -m swinseg.engine CONFIG [key=value ...]`` (or under ``torchrun -m``)."""

from __future__ import annotations

import argparse
import json

import yaml

from swinseg.engine.config import load_train_config
from swinseg.engine.train import TrainingDiverged, train


def main(argv: list[str] | None = None) -> None:
    """``python -m swinseg.engine CONFIG [key=value ...]``, also under ``torchrun``; values are YAML."""
    parser = argparse.ArgumentParser(prog="python -m swinseg.engine", description=main.__doc__)
    parser.add_argument("config", help="a training config YAML (configs/*.yaml)")
    parser.add_argument("overrides", nargs="*", help="dotted keys, e.g. data.root=data/ade optim.lr=1e-4")
    args = parser.parse_args(argv)
    overrides = {}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"override {item!r} is not key=value")
        overrides[key] = yaml.safe_load(value)
    try:
        result = train(load_train_config(args.config, overrides))
    except (ValueError, OSError, TrainingDiverged) as e:  # bad config / data / checkpoint: one line, no traceback
        raise SystemExit(f"swinseg train: error: {e}") from None
    print(json.dumps({"iter": result["iter"], "best_mIoU": result["best_mIoU"]}))


if __name__ == "__main__":
    main()
