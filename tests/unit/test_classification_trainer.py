"""The classification trainer end to end on tiny synthetic glass crops: outputs, artifact, resume."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from perception.core.artifacts import load_artifact, read_metadata
from perception.core.classifier import Classifier, ClassifierBuildError
from perception.core.domain import METADATA_KEY, model_tensors
from perception_training.classification import train
from perception_training.classification.module import ClassifierModule
from perception_training.classification.recipes import RECIPES
from perception_training.ood.sources import GLASS_CROPS
from perception_training.synthetic.writers.glass import write_glass_crops

ARGS = [
    "--recipe", "glass-synthetic", "--architecture", "mobilenet_v3_small", "--image-size", "32",
    "--batch-size", "8", "--cutmix-alpha", "1.0", "--mixup-alpha", "0.2", "--freeze-epochs", "1",
    "--lr", "3e-3", "--threads", "1",  # one thread is far faster than 2 on a shared CPU; restored after
]  # fmt: skip
OOD_CALIBRATION = 6  # held-out crops: the domain threshold of the exported artifact
OUTPUTS = (
    "latest.safetensors",
    "best.safetensors",
    "last.ckpt",
    "best.ckpt",
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
    assert train.main([*ARGS, "--data", str(glass_crops), "--out", str(tmp_path / "runs"), "--epochs", "3",
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
    for row in metrics:  # CutMix/MixUp on a share of batches that follows the strength
        assert float(row["mix_prob"]) == pytest.approx(0.5 * float(row["aug_strength"]), abs=1e-4)
    assert {"train_top1", "train_top5", "val_top1", "val_top5", "train_loss", "val_loss"} <= set(metrics[0])

    best = read_metadata(run_dir / "best.safetensors")
    assert best["kind"] == "classifier" and best["architecture"] == "mobilenet_v3_small"
    assert best["classes"] == ["beer_glass", "cup", "soju_glass"]
    assert best["preprocessing"]["image_size"] == 32 and len(best["preprocessing"]["mean"]) == 3
    assert best["dataset"]["generator"] == "perception_training.synthetic" and best["dataset"]["seed"] == 0
    assert "classify" in best["command"] and best["code_version"]
    assert best["training"]["config"]["freeze_epochs"] == 1
    epoch = int(best["metrics"]["epoch"])  # the artifact's metrics are those of its epoch's row
    assert best["metrics"]["val_top1"] == pytest.approx(float(metrics[epoch - 1]["val_top1"]))
    assert 0.0 <= best["metrics"]["test_top1"] <= 1.0
    assert set(best["metrics"]["test_per_class_accuracy"]) == set(best["classes"])
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

    assert train.main(["--resume", str(run_dir / "latest.safetensors")]) == 0
    assert [r["epoch"] for r in _rows(run_dir / "metrics.csv")] == ["1", "2", "3"]
    assert read_metadata(run_dir / "latest.safetensors")["metrics"]["epoch"] == 3

    # The same 3 epochs without the interruption: per-epoch seeds (order, augmentation of each
    # image, mixing) and the restored optimizer and schedule make the resumed run land on the
    # same weights.
    assert train.main([*ARGS, "--data", str(glass_crops), "--out", str(tmp_path / "unbroken"),
                       "--epochs", "3", "--run-name", "whole"]) == 0  # fmt: skip
    resumed_weights = load_file(run_dir / "latest.safetensors")
    unbroken_weights = load_file(tmp_path / "unbroken" / "glass-synthetic" / "whole" / "latest.safetensors")
    assert resumed_weights.keys() == unbroken_weights.keys()
    for name, tensor in unbroken_weights.items():
        assert torch.allclose(resumed_weights[name].float(), tensor.float(), atol=1e-5), name


def test_resume_refuses_a_dataset_with_other_classes(glass_crops: Path, tmp_path: Path) -> None:
    stored = {"task": "t", "data": str(glass_crops), "classes": ["mug", "pint", "shot"]}
    (tmp_path / "run.json").write_text(json.dumps({**stored, "config": {"epochs": 1}}))
    with pytest.raises(SystemExit, match="was trained on classes"):
        train.main(["--resume", str(tmp_path)])


def test_recipe_settings_are_options_that_reach_the_network(glass_crops: Path, tmp_path: Path) -> None:
    options = train.RunOptions(data=glass_crops, out=tmp_path, run_name="x")
    run = train._resolve(options, {"architecture": "mobilenet_v3_small", "drop_rate": 0.4, "epochs": 2}, "t")
    assert run.config == RECIPES["glass-synthetic"].with_overrides(
        {"architecture": "mobilenet_v3_small", "drop_rate": 0.4, "epochs": 2}
    )
    assert run.run_dir == tmp_path / "glass-synthetic" / "x" and run.run_dir.is_dir()
    module = ClassifierModule(asdict(run.config), run.data.classes, run.data.descriptions, "t", {})
    assert [m.p for m in module.model.modules() if isinstance(m, torch.nn.Dropout)] == [0.4]
    with pytest.raises(ClassifierBuildError, match="attn_drop_rate and drop_path_rate apply to vit_small"):
        ClassifierModule(asdict(replace(run.config, attn_drop_rate=0.1)), run.data.classes, [], "t", {})
