"""The classifier factory: every architecture builds offline and forwards, with its regularisers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from perception.core.classifier import ARCHITECTURES, ClassifierBuildError, build_classifier
from perception.core.domain import last_linear

BIG = {"vgg16", "resnet101", "resnet152"}


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One thread is several times faster than two on a CPU shared with other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "architecture", [pytest.param(a, marks=pytest.mark.slow) if a in BIG else a for a in ARCHITECTURES]
)
def test_every_architecture_builds_and_forwards_a_batch(architecture: str) -> None:
    size = 64 if architecture == "swin_tiny" else 32  # swin at 64 px needs 2x2 attention windows
    model = build_classifier(architecture, num_classes=3, image_size=size).eval()
    with torch.inference_mode():
        logits = model(torch.randn(2, 3, size, size))
    assert logits.shape == (2, 3)
    assert last_linear(model).out_features == 3


def test_regularisers_reach_the_networks_that_have_them() -> None:
    vit = build_classifier("vit_small", 3, 32, drop_rate=0.3, attn_drop_rate=0.2, drop_path_rate=0.1)
    assert vit.head_drop.p == 0.3 and vit.blocks[0].attn.attn_drop.p == 0.2
    assert vit.blocks[-1].drop_path1.drop_prob == pytest.approx(0.1)  # stochastic depth rises to the rate
    mobilenet = build_classifier("mobilenet_v2", 3, 32, drop_rate=0.5)
    assert [m.p for m in mobilenet.modules() if isinstance(m, torch.nn.Dropout)] == [0.5]
    default = build_classifier("mobilenet_v2", 3, 32)
    assert [m.p for m in default.modules() if isinstance(m, torch.nn.Dropout)] == [0.2]  # torchvision's own
    with pytest.raises(ClassifierBuildError, match="resnet18 has no dropout"):
        build_classifier("resnet18", 3, 32, drop_rate=0.1)
    with pytest.raises(ClassifierBuildError, match="no attention or stochastic depth"):
        build_classifier("mobilenet_v2", 3, 32, drop_path_rate=0.1)


@pytest.mark.parametrize(
    ("architecture", "classes", "size", "message"),
    [
        ("resnet999", 3, 64, "unknown architecture"),
        ("resnet18", 0, 64, "num_classes"),
        ("resnet18", 3, 16, "below"),
        ("vit_small", 3, 72, "multiple of 16"),
        ("swin_tiny", 3, 80, "multiple of 32"),
    ],
)
def test_bad_requests_are_explained(architecture: str, classes: int, size: int, message: str) -> None:
    with pytest.raises(ClassifierBuildError, match=message):
        build_classifier(architecture, classes, size)
