"""Model nodes on ONNX Runtime: configured from an ``.onnx`` model_path they load it without
importing torch (checked in a fresh interpreter, where nothing else can have imported it), and
the same nodes on torch artifacts do import it (so the check can fail)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import tiny_sign

MODELS = Path(__file__).resolve().parents[2] / "models"

CONSTRUCT = """
import json, sys
import rclpy
from rclpy.parameter import Parameter
from perception.nodes.detector_node import DetectorNode
from perception.nodes.glass_node import GlassNode
from perception.nodes.sign_node import SignNode

paths = json.loads(sys.argv[1])
context = rclpy.Context()
rclpy.init(context=context)
models = {}
for cls, path in ((DetectorNode, paths["detector"]), (GlassNode, paths["glass"]), (SignNode, paths["sign"])):
    overrides = [Parameter("model_path", value=path), Parameter("cpu_threads", value=1)]
    node = cls(context=context, parameter_overrides=overrides)
    assert node.autostart(), cls.__name__
    model = getattr(node.model, "recognizer", None) or getattr(node.model, "classifier", None) or node.model
    models[cls.__name__] = type(model).__name__
    node.trigger_shutdown()
    node.destroy_node()
rclpy.shutdown(context=context)
print(json.dumps({"torch": "torch" in sys.modules, "models": models}))
"""


def construct(paths: dict[str, Path]) -> dict:
    """Build, configure and activate the three nodes in a fresh interpreter; what it imported."""
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
def sign_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("perception_training", reason="exports with the training package")
    from perception_training.onnx_export.cli import export_onnx

    artifact = tiny_sign(tmp_path_factory.mktemp("sign") / "sign.safetensors")
    return {"safetensors": artifact, "onnx": export_onnx(artifact)[0]}


def test_nodes_on_onnx_models_never_import_torch(sign_models: dict[str, Path]) -> None:
    paths = {
        "detector": MODELS / "detector" / "yolo11n_synthetic.onnx",
        "glass": MODELS / "glass" / "mobilenet_v2_glass.onnx",
        "sign": sign_models["onnx"],
    }
    report = construct(paths)
    assert report["models"] == {
        "DetectorNode": "OnnxDetector",
        "GlassNode": "OnnxClassifier",
        "SignNode": "OnnxSignRecognizer",
    }
    assert report["torch"] is False


def test_the_same_nodes_on_torch_artifacts_do_import_it(sign_models: dict[str, Path]) -> None:
    paths = {
        "detector": MODELS / "detector" / "yolo11n_synthetic.safetensors",
        "glass": MODELS / "glass" / "mobilenet_v2_glass.safetensors",
        "sign": sign_models["safetensors"],
    }
    report = construct(paths)
    assert report["models"] == {
        "DetectorNode": "Detector",
        "GlassNode": "Classifier",
        "SignNode": "SignRecognizer",
    }
    assert report["torch"] is True
