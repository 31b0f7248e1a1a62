"""Model nodes on ONNX Runtime: configured from an ``.onnx`` model_path they load it without
importing torch (checked in a fresh interpreter, where nothing else can have imported it), and
the same nodes on torch artifacts do import it (so the check can fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import tiny_captioner, tiny_sign

MODELS = Path(__file__).resolve().parents[2] / "models"

CONSTRUCT = """
import json, sys
import rclpy
from rclpy.parameter import Parameter
from perception.nodes.caption_node import CaptionNode
from perception.nodes.detector_node import DetectorNode
from perception.nodes.glass_node import GlassNode
from perception.nodes.sign_node import SignNode

paths = json.loads(sys.argv[1])
context = rclpy.Context()
rclpy.init(context=context)
models = {}
nodes = {DetectorNode: "detector", GlassNode: "glass", SignNode: "sign", CaptionNode: "caption"}
for cls, kind in nodes.items():
    overrides = [Parameter("model_path", value=paths[kind]), Parameter("cpu_threads", value=1)]
    node = cls(context=context, parameter_overrides=overrides)
    assert node.autostart(), cls.__name__
    model = node.model
    for inner in ("recognizer", "classifier", "captioner"):
        model = getattr(model, inner, model)
    models[cls.__name__] = type(model).__name__
    node.trigger_shutdown()
    node.destroy_node()
rclpy.shutdown(context=context)
print(json.dumps({"torch": "torch" in sys.modules, "models": models}))
"""


def construct(paths: dict[str, Path]) -> dict:
    """Build, configure and activate the four nodes in a fresh interpreter; what it imported."""
    result = subprocess.run(
        [sys.executable, "-c", CONSTRUCT, json.dumps({k: str(v) for k, v in paths.items()})],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """The sign and caption artifacts and their exports, by kind and suffix."""
    pytest.importorskip("perception_training", reason="exports with the training package")
    from perception_training.onnx_export.cli import export_onnx

    folder = tmp_path_factory.mktemp("tiny")
    artifacts = {
        "sign": tiny_sign(folder / "sign.safetensors"),
        "caption": tiny_captioner(folder / "captioner.safetensors"),
    }
    return {kind: {"safetensors": path, "onnx": export_onnx(path)[0]} for kind, path in artifacts.items()}


@pytest.mark.parametrize(
    ("suffix", "models", "imports_torch"),
    [
        ("onnx", ("OnnxDetector", "OnnxClassifier", "OnnxSignRecognizer", "OnnxCaptioner"), False),
        (
            "safetensors",
            ("Detector", "Classifier", "SignRecognizer", "Captioner"),
            True,
        ),  # so the check can fail
    ],
)
def test_nodes_on_onnx_models_never_import_torch(
    tiny_models: dict[str, dict[str, Path]], suffix: str, models: tuple[str, ...], imports_torch: bool
) -> None:
    paths = {
        "detector": MODELS / "detector" / f"yolo11n_synthetic.{suffix}",
        "glass": MODELS / "glass" / f"mobilenet_v2_glass.{suffix}",
        "sign": tiny_models["sign"][suffix],
        "caption": tiny_models["caption"][suffix],
    }
    report = construct(paths)
    nodes = ("DetectorNode", "GlassNode", "SignNode", "CaptionNode")
    assert report["models"] == dict(zip(nodes, models, strict=True))
    assert report["torch"] is imports_torch
