"""Encoder pretraining on YOLO boxes: label reading, grid targets, a short run the captioner starts from."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from perception.core.artifacts import read_metadata
from perception.core.caption_model import CaptionEncoder
from perception_training.captioning.encoder_module import GridTensors, mirrored
from perception_training.captioning.encoder_pretrain import main
from perception_training.captioning.train import main as caption_main
from perception_training.captioning.yolo_grid import (
    YoloDatasetError,
    grid_targets,
    read_labels,
    read_yolo_dataset,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_grid_targets_mark_every_cell_a_box_overlaps_and_only_those():
    # A thin horizontal knife (class 4) across the middle two columns of row 1 of a 4x4 grid,
    # and a person (class 0) filling the top-left cell exactly.
    boxes = np.array([[4, 0.5, 0.3, 0.4, 0.05], [0, 0.125, 0.125, 0.25, 0.25]], dtype=np.float32)
    cells = grid_targets(boxes, 5, (4, 4)).reshape(4, 4, 5)
    assert np.argwhere(cells[..., 4]).tolist() == [[1, 1], [1, 2]]
    assert np.argwhere(cells[..., 0]).tolist() == [[0, 0]]
    assert cells[..., 1:4].sum() == 0
    assert grid_targets(np.zeros((0, 5), np.float32), 5, (4, 4)).sum() == 0


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("7 0.5 0.5 0.1 0.1", "class id in 0..4"),
        ("0 0.5 0.5 0.1", "class cx cy w h"),
        ("0 0.5 1.5 0.1 0.1", "0..1"),
    ],
)
def test_a_malformed_label_line_names_file_line_and_format(tmp_path, line, problem):
    path = tmp_path / "x.txt"
    path.write_text(f"1 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(YoloDatasetError, match=rf"x\.txt:2: .*{problem}"):
        read_labels(path, 5)


def test_dataset_reader_pairs_images_with_labels_and_names_a_missing_split(tmp_path):
    for split in ("train", "val"):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        (tmp_path / "images" / split / "a.jpg").write_bytes(b"")
        (tmp_path / "images" / split / "b.jpg").write_bytes(b"")
        (tmp_path / "labels" / split / "a.txt").write_text("2 0.5 0.5 0.2 0.2\n")
    data = tmp_path / "data.yaml"
    data.write_text("path: .\ntrain: images/train\nval: images/val\nnames: {0: cat, 1: dog, 2: cup}\n")
    dataset = read_yolo_dataset(data)
    assert dataset.classes == ["cat", "dog", "cup"]
    train = dataset.splits["train"]
    assert [p.name for p in train.images] == ["a.jpg", "b.jpg"]
    assert train.boxes[0].tolist() == [pytest.approx([2.0, 0.5, 0.5, 0.2, 0.2])]
    assert train.boxes[1].shape == (0, 5)
    data.write_text("train: images/train\nnames: [cat, dog, cup]\n")
    with pytest.raises(YoloDatasetError, match="no 'val' folder"):
        read_yolo_dataset(data)


def test_pretraining_writes_an_encoder_artifact_the_captioner_starts_from(tmp_path, capsys):
    out = tmp_path / "encoder"
    args = ["--synthetic", "24,8", "--synthetic-size", "96x72", "--out", str(out), "--epochs", "2"]
    assert main([*args, "--batch", "8", "--image-size", "64"]) == 0
    artifact = out / "encoder.safetensors"
    assert str(artifact) in capsys.readouterr().out
    with (out / "metrics.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(0.0 <= float(row["AP_knife"]) <= 1.0 and float(row["train_loss"]) > 0 for row in rows)
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    metadata = read_metadata(artifact)
    assert metadata["kind"] == "caption_encoder" and metadata["grid"] == [2, 2]
    assert [row["epoch"] for row in metadata["history"]] == ["1", "2"] and metadata["metrics"]["epoch"] == 2
    assert metadata["classes"] == ["person", "bottle", "wine glass", "cup", "knife"]
    assert metadata["dataset"]["size"] == [96, 72] and metadata["dataset"]["kinds"] == ["caption"]
    trained = CaptionEncoder(artifact).features.state_dict()
    assert any(not torch.equal(trained[k], v) for k, v in CaptionEncoder().features.state_dict().items())

    caption = tmp_path / "caption"
    tiny = ["--embed-dim", "8", "--hidden-dim", "16", "--attention-dim", "8", "--batch", "8", "--no-meteor"]
    tiny += ["--ood-calibration", "0"]  # domain statistics are test_caption_training's
    options = ["--synthetic", "12,4,4", "--synthetic-size", "96x72", "--image-size", "64", "--epochs", "1"]
    assert caption_main([*options, "--out", str(caption), "--encoder-weights", str(artifact), *tiny]) == 0
    provenance = read_metadata(caption / "captioner.safetensors")["encoder_weights"]
    assert provenance["kind"] == "caption_encoder" and provenance["command"] == metadata["command"]
    assert len(provenance["sha256"]) == 64


def test_mirroring_flips_image_and_grid_targets_together():
    images = torch.arange(8 * 3 * 4 * 4, dtype=torch.float32).reshape(8, 3, 4, 4)
    cells = torch.zeros(8, 2 * 2, 5)
    cells[:, 0, 4] = 1.0  # a knife in the top-left cell of every image
    data = GridTensors(images, cells, cells.amax(dim=1))
    flips = torch.tensor([True, False, False, True, True, False, True, False])
    order = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0])
    batch = mirrored(data, order, flips, (2, 2))
    for row, (index, flipped) in enumerate(zip(order.tolist(), flips.tolist(), strict=True)):
        expected_image = images[index].flip(-1) if flipped else images[index]
        assert torch.equal(batch.images[row], expected_image)
        assert batch.cells[row, 1 if flipped else 0, 4] == 1.0 and batch.cells[row, :, 4].sum() == 1.0
    assert torch.equal(batch.present, data.present[order]) and torch.equal(data.images, images)
