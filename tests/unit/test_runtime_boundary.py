"""The line between what runs on the robot and what trains: the runtime package (``perception``,
ros_ws/src/perception) imports neither the training package nor a training-only library, and
defines none of the training-only API that moved out of it.

Three checks. Every module of the runtime package imported in a fresh interpreter (so nothing
this test process already imported can hide an import) leaves none of ``FORBIDDEN`` in
``sys.modules``. And in the runtime package's source no import statement, nor an
``import_module`` string, names the training package or a training-only library
(``TRAINING_ONLY``), even one that only runs on some path; the model libraries that only some
artifacts need (``LAZY``: timm's classifiers, PyTorchVideo's sign networks) are imported only
inside the function that builds such a network, never when a module loads. And the functions
and classes only training uses (``TRAINING_API``) are defined in their training module and
nowhere in the runtime package, so they cannot creep back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME = REPO_ROOT / "ros_ws" / "src" / "perception"
# onnx (and onnxslim) write exports; the nodes run them with onnxruntime alone.
TRAINING_ONLY = (
    "perception_training",
    "lightning",
    "pytorch_lightning",
    "tensorboard",
    "pycocoevalcap",
    "onnx",
    "onnxslim",
)
LAZY = ("timm", "pytorchvideo")
FORBIDDEN = TRAINING_ONLY + LAZY
# training module -> the names it defines that once lived in perception.core (issue 13)
TRAINING_API = {
    "classification/backbone.py": ("freeze_backbone", "unfreeze", "load_pretrained_backbone"),
    "captioning/captions_file.py": ("read_captions", "detect_format", "CaptionRecord", "CaptionFileError"),
    "captioning/glove.py": ("load_glove", "GloveInit"),
    "ood/statistics.py": ("fit_statistics", "shrunk_covariance"),
    "detector/artifact.py": ("save_detector",),
    "detector/export.py": ("export_detector",),
    "sign/artifact.py": ("sign_metadata",),
    "captioning/artifact.py": ("save_captioner", "captioner_metadata"),
    "manifest.py": ("add_digest",),
}

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import perception

forbidden = json.loads(sys.argv[1])
modules, leaks = [], {}
for info in pkgutil.walk_packages(perception.__path__, "perception."):
    if info.name.rsplit(".", 1)[-1] == "__main__":  # runs the CLI
        continue
    importlib.import_module(info.name)
    modules.append(info.name)
    for name in forbidden:
        if name not in leaks and any(m == name or m.startswith(name + ".") for m in sys.modules):
            leaks[name] = info.name
print(json.dumps({"modules": modules, "leaks": leaks}))
"""


def test_importing_every_runtime_module_loads_no_training_code() -> None:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, json.dumps(FORBIDDEN)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "perception.core.captioner" in report["modules"] and len(report["modules"]) > 40
    # {library: the first runtime module whose import loaded it}
    assert report["leaks"] == {}


def imported_names(tree: ast.AST) -> list[tuple[int, str, bool]]:
    """(line, module, inside a function) of every import statement and every string passed to
    import_module."""
    in_function = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for inner in ast.walk(node)
        if inner is not node
    }
    found = []
    for node in ast.walk(tree):
        lazy = id(node) in in_function
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, lazy) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, lazy))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value, lazy))
    return found


def test_no_runtime_source_names_a_training_module() -> None:
    sources = sorted(RUNTIME.rglob("*.py"))
    assert RUNTIME / "perception" / "nodes" / "detector_node.py" in sources
    offending = [
        f"{path.relative_to(RUNTIME)}:{line}: {module}" + (" (inside a function)" if lazy else "")
        for path in sources
        for line, module, lazy in imported_names(ast.parse(path.read_text(), str(path)))
        if module.split(".")[0] in TRAINING_ONLY or (module.split(".")[0] in LAZY and not lazy)
    ]
    assert offending == []


def test_the_scan_sees_lazy_imports() -> None:
    tree = ast.parse(
        "import pytorchvideo\n"
        "def f():\n    import perception_training.synthetic\n"
        "def g():\n    return importlib.import_module('timm')\n"
    )
    assert sorted((name, lazy) for _, name, lazy in imported_names(tree)) == [
        ("perception_training.synthetic", True),
        ("pytorchvideo", False),
        ("timm", True),
    ]


def defined_names(path: Path) -> set[str]:
    """Every function and class ``path`` defines, nested ones included."""
    tree = ast.parse(path.read_text(), str(path))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def test_training_only_api_lives_in_the_training_package() -> None:
    training = REPO_ROOT / "training" / "perception_training"
    missing = {path: set(names) - defined_names(training / path) for path, names in TRAINING_API.items()}
    assert {path: names for path, names in missing.items() if names} == {}
    moved = {name for names in TRAINING_API.values() for name in names}
    in_runtime = [
        f"{path.relative_to(RUNTIME)}: {name}"
        for path in sorted(RUNTIME.rglob("*.py"))
        for name in sorted(defined_names(path) & moved)
    ]
    assert in_runtime == []
