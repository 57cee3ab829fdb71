"""The import rule of swinseg's layout: each package imports only the packages below it (docs/architecture.md).

    cli -> demo -> benchmark -> training / predict / report -> evaluation / export -> inference / checkpoints
        -> models / data / visualize -> core

The rule is read off the source (every ``import`` statement, function-level ones included), so a test fails
the moment a module reaches up a layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "swinseg"

LIBRARY = {"core", "models", "data", "visualize", "checkpoints", "inference", "evaluation", "predict", "export",
           "training", "report", "benchmark", "demo"}  # fmt: skip

# package -> the swinseg packages its modules may import (besides itself)
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    "models": {"core"},
    "data": {"core"},
    "visualize": {"core", "data"},
    "checkpoints": {"core", "models", "data"},
    "inference": {"core", "models"},
    "evaluation": {"core", "models", "data", "inference"},
    "export": {"core", "models"},
    "predict": {"core", "models", "data", "inference", "visualize"},
    "training": {"core", "models", "data", "checkpoints", "inference", "evaluation"},
    "report": {"core", "data", "evaluation", "visualize"},
    "benchmark": {"core", "models", "data", "checkpoints", "inference", "evaluation", "predict", "training"},
    "demo": {"core", "models", "data", "checkpoints", "inference", "evaluation", "predict", "training", "report",
             "benchmark"},  # fmt: skip
    "cli": LIBRARY,
    "": LIBRARY,  # swinseg/__init__.py: the public API, everything but the command line
    "__main__": {"cli"},
}


def _package(module: Path) -> str:
    """``swinseg/models/heads/uper.py`` -> ``models``; ``swinseg/demo.py`` -> ``demo``; the root -> ``""``."""
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    return "" if parts == ("__init__",) else parts[0]


def _imported(module: Path, package: Path = PACKAGE) -> set[str]:
    """The swinseg packages a module imports (absolute imports; relative ones resolved against its folder)."""
    tree = ast.parse(module.read_text(), filename=str(module))
    here = module.relative_to(package.parent).with_suffix("").parts[:-1]  # ("swinseg", "data") for data/io.py
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level + 1] + ((base,) if base else ()))
            names = [base] if base != "swinseg" else [f"swinseg.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("swinseg.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=[str(m.relative_to(PACKAGE)) for m in MODULES])
def test_modules_import_only_the_layers_below_them(module):
    package = _package(module)
    assert package in MAY_IMPORT, f"{module}: package {package!r} has no place in the layering rule"
    upward = _imported(module) - MAY_IMPORT[package] - {package}
    assert not upward, f"{module.relative_to(PACKAGE)} ({package or 'swinseg'}) imports {sorted(upward)}"


def test_the_rule_reads_absolute_relative_and_function_level_imports(tmp_path):
    probe = tmp_path / "swinseg" / "models" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from . import swin\nfrom ..data.io import read_image\n\n\ndef f():\n"
                     "    from swinseg.training.config import TrainConfig\n    import swinseg.cli\n")  # fmt: skip
    assert _imported(probe, tmp_path / "swinseg") == {"models", "data", "training", "cli"}


def test_import_swinseg_leaves_out_smp_timm_and_transformers():
    code = ("import sys, swinseg; heavy = ('segmentation_models_pytorch', 'timm', 'transformers'); "
            "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
