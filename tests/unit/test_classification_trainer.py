"""The classification trainer end to end on tiny synthetic glass crops: outputs, artifact, resume."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from perception.core.artifacts import load_artifact, read_metadata
from perception.core.classifier import TRAINING_STATE_PREFIX, Classifier
from perception.core.domain import METADATA_KEY, model_tensors
from perception_training.classification import cli
from perception_training.classification.readers import read_dataset
from perception_training.classification.recipes import RECIPES
from perception_training.classification.trainer import ClassificationTrainer
from perception_training.ood.sources import GLASS_CROPS
from perception_training.synthetic.writers.glass import write_glass_crops

TINY = {
    "architecture": "mobilenet_v3_small",
    "image_size": 32,
    "batch_size": 8,
    "cutmix_alpha": 1.0,
    "mixup_alpha": 0.2,
    "freeze_epochs": 1,
    "lr": 3e-3,
    "threads": 1,  # far faster than 2 on a shared CPU; restored after each test
}
ARGS = [
    "--recipe", "glass-synthetic", "--architecture", "mobilenet_v3_small", "--image-size", "32",
    "--batch-size", "8", "--cutmix-alpha", "1.0", "--mixup-alpha", "0.2", "--freeze-epochs", "1",
    "--lr", "3e-3", "--threads", "1",
]  # fmt: skip
OOD_CALIBRATION = 6  # held-out crops: the domain threshold of the exported artifact
OUTPUTS = (
    "latest.safetensors",
    "best.safetensors",
    "metrics.csv",
    "curves_loss.png",
    "curves_accuracy.png",
    "per_class.csv",
    "per_class.md",
    "confusion_matrix.png",
    "best_test_preds.csv",
    "dataset_image_sizes.png",
    "dataset_splits.png",
    "dataset_classes.png",
    "run.json",
)


@pytest.fixture(scope="module")
def glass_crops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_glass_crops(tmp_path_factory.mktemp("glass"), seed=0, counts={"train": 24, "test": 9})


@pytest.fixture(autouse=True)
def _restore_torch_threads() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


def test_two_epochs_write_every_output_and_resuming_matches_an_unbroken_run(
    glass_crops: Path, tmp_path: Path
) -> None:
    export = tmp_path / "exported" / "glass.safetensors"
    assert cli.main([*ARGS, "--data", str(glass_crops), "--out", str(tmp_path / "runs"), "--epochs", "3",
                     "--stop-after", "2", "--export", str(export),
                     "--ood-calibration", str(OOD_CALIBRATION)]) == 0  # fmt: skip
    (run_dir,) = (tmp_path / "runs" / "glass-synthetic").iterdir()
    for name in OUTPUTS:
        assert (run_dir / name).is_file(), name
    assert any((run_dir / "tensorboard").iterdir())

    metrics = _rows(run_dir / "metrics.csv")
    assert [r["epoch"] for r in metrics] == ["1", "2"]
    assert float(metrics[0]["lr_backbone"]) == 0.0 < float(metrics[1]["lr_backbone"])  # frozen, then not
    assert float(metrics[0]["aug_strength"]) < float(metrics[1]["aug_strength"])  # progressive

    best = read_metadata(run_dir / "best.safetensors")
    assert best["kind"] == "classifier" and best["architecture"] == "mobilenet_v3_small"
    assert best["classes"] == ["beer_glass", "cup", "soju_glass"]
    assert best["preprocessing"]["image_size"] == 32 and len(best["preprocessing"]["mean"]) == 3
    assert best["dataset"]["generator"] == "perception_training.synthetic" and best["dataset"]["seed"] == 0
    assert "classify" in best["command"] and best["code_version"]
    assert 0.0 <= best["metrics"]["test_top1"] <= 1.0
    assert set(best["metrics"]["test_per_class_accuracy"]) == set(best["classes"])
    assert not any(k.startswith(TRAINING_STATE_PREFIX) for k in load_file(run_dir / "best.safetensors"))
    exported, exported_metadata = load_artifact(export)  # best's weights plus domain statistics
    best_weights = load_file(run_dir / "best.safetensors")
    assert model_tensors(exported).keys() == best_weights.keys()
    assert all(torch.equal(exported[name], tensor) for name, tensor in best_weights.items())
    domain = exported_metadata[METADATA_KEY]
    assert domain["model_weights_sha256"] == best["weights_sha256"] and domain["threshold"] > 0
    assert (domain["fit_samples"], domain["calibration_samples"]) == (24, OOD_CALIBRATION)
    assert domain["calibration"]["kinds"] == [GLASS_CROPS]

    per_class = _rows(run_dir / "per_class.csv")
    assert [r["class"] for r in per_class] == best["classes"] and sum(
        int(r["images"]) for r in per_class
    ) == 9
    preds = _rows(run_dir / "best_test_preds.csv")
    assert len(preds) == 9 and {r["split"] for r in preds} == {"test"}
    accuracy = sum(r["true"] == r["pred"] for r in preds) / 9
    assert accuracy == pytest.approx(best["metrics"]["test_top1"])
    assert Classifier.load(export, device="cpu").classes == best["classes"]

    assert cli.main(["--resume", str(run_dir)]) == 0
    assert [r["epoch"] for r in _rows(run_dir / "metrics.csv")] == ["1", "2", "3"]
    latest = read_metadata(run_dir / "latest.safetensors")
    assert latest["training"]["epoch"] == 3

    # The same 3 epochs without the interruption: per-epoch seeding and the restored optimizer
    # and schedule make the resumed run land on the same weights.
    config = RECIPES["glass-synthetic"].with_overrides({**TINY, "epochs": 3})
    unbroken = tmp_path / "unbroken"
    unbroken.mkdir()
    ClassificationTrainer(read_dataset(glass_crops), config, unbroken, "glass-synthetic", "test").fit()
    resumed_weights = load_file(run_dir / "latest.safetensors")
    unbroken_weights = load_file(unbroken / "latest.safetensors")
    assert resumed_weights.keys() == unbroken_weights.keys()
    for name, tensor in unbroken_weights.items():
        assert torch.allclose(resumed_weights[name].float(), tensor.float(), atol=1e-5), name


def test_resume_refuses_a_dataset_with_other_classes(glass_crops: Path, tmp_path: Path) -> None:
    config = RECIPES["glass-synthetic"].with_overrides({**TINY, "epochs": 1, "freeze_epochs": 0})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ClassificationTrainer(read_dataset(glass_crops), config, run_dir, "t", "test").fit()
    other = read_dataset(glass_crops)
    other.classes = ["mug", "pint", "shot"]
    trainer = ClassificationTrainer(other, config, tmp_path, "t", "test")
    with pytest.raises(ValueError, match="trained on classes"):
        trainer.resume(run_dir / "latest.safetensors")
