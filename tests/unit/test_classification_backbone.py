"""Transfer learning on a classifier: pretrained weights from a local file, frozen and thawed backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from perception.core.classifier import ClassifierBuildError, build_classifier
from perception.core.domain import last_linear
from perception_training.classification.backbone import freeze_backbone, load_pretrained_backbone, unfreeze

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_freeze_trains_only_the_head_and_unfreeze_restores() -> None:
    model = build_classifier("mobilenet_v3_small", 3, 32)
    freeze_backbone(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable == list(last_linear(model).parameters())
    unfreeze(model)
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_pretrained_weights_load_except_a_mismatched_head(tmp_path: Path, suffix: str) -> None:
    source = build_classifier("resnet18", 10, 32)
    path = tmp_path / f"weights{suffix}"
    if suffix == ".pt":
        torch.save({"state_dict": source.state_dict()}, path)
    else:
        save_file(source.state_dict(), str(path))
    target = build_classifier("resnet18", 3, 32)
    kept = load_pretrained_backbone(target, path)
    assert kept == ["fc.bias", "fc.weight"]
    assert torch.equal(target.conv1.weight, source.conv1.weight)
    assert not torch.equal(target.fc.weight[:3], source.fc.weight[:3])


def test_pretrained_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "mobilenet.safetensors"
    save_file(build_classifier("mobilenet_v3_small", 3, 32).state_dict(), str(path))
    with pytest.raises(ClassifierBuildError, match="another architecture"):
        load_pretrained_backbone(build_classifier("resnet18", 3, 32), path)


def test_unreadable_or_missing_weights_are_explained(tmp_path: Path) -> None:
    model = build_classifier("resnet18", 3, 32)
    with pytest.raises(ClassifierBuildError, match="does not exist"):
        load_pretrained_backbone(model, tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(ClassifierBuildError, match="cannot read pretrained weights"):
        load_pretrained_backbone(model, garbage)
