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


@pytest.mark.parametrize(
    ("suffix", "models", "imports_torch"),
    [
        ("onnx", ("OnnxDetector", "OnnxClassifier", "OnnxSignRecognizer"), False),
        ("safetensors", ("Detector", "Classifier", "SignRecognizer"), True),  # so the check can fail
    ],
)
def test_nodes_on_onnx_models_never_import_torch(
    sign_models: dict[str, Path], suffix: str, models: tuple[str, str, str], imports_torch: bool
) -> None:
    paths = {
        "detector": MODELS / "detector" / f"yolo11n_synthetic.{suffix}",
        "glass": MODELS / "glass" / f"mobilenet_v2_glass.{suffix}",
        "sign": sign_models[suffix],
    }
    report = construct(paths)
    assert report["models"] == dict(zip(("DetectorNode", "GlassNode", "SignNode"), models, strict=True))
    assert report["torch"] is imports_torch
