"""``python -m perception_training.ood.glass_features``: would other domain features let the glass
classifier alone tell real crops from synthetic ones? (docs/ood.md, "The glass classifier alone")

Every variant is fitted and thresholded exactly as ``ood-calibrate`` does (Ledoit-Wolf
Mahalanobis distance over the training crops, the threshold at 1 % of 400 held-out crops of
split ``ood-calibration``) and measured on 400 held-out crops of world seed 61 (false alarms)
and on two real sets: the 44 evaluation frames whole (what ``evaluate`` uses) and the crops
the glass node would cut from them (every detector box at confidence >= 0.25, padded by 10 %).
Variants: the channel statistics of other backbone blocks of the MobileNetV2, the network run
at twice its input size (the crop nearer its full resolution), and pixel statistics of the
crop at its own resolution (noise residual, Laplacian, gradients, saturation, colour count).
Writes the table between the glass-features markers of docs/ood.md.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from perception.core.artifacts import read_metadata
from perception.core.classifier import Classifier, Preprocessing
from perception.core.detector import Detector
from perception.core.domain import FeatureTap, TapPoint, channel_statistics, last_linear
from perception.core.glass import crop_with_padding
from perception_training.engine.tables import markdown_table
from perception_training.ood.evaluate import (
    EVAL_SEED,
    EVAL_SPLIT,
    REPO_ROOT,
    auroc,
    fraction,
    rate,
    write_table,
)
from perception_training.ood.real_photos import evaluation_frames
from perception_training.ood.sources import CALIBRATION_SPLIT, held_out_images, training_images
from perception_training.ood.statistics import fit_statistics

LOG = logging.getLogger(__name__)
PROG = "python -m perception_training.ood.glass_features"
MARKERS = ("<!-- glass-features-table:start -->", "<!-- glass-features-table:end -->")
GLASS = "glass/mobilenet_v2_glass.safetensors"
DETECTOR = "detector/yolo11n_synthetic.safetensors"
CROP_PADDING, CROP_CONFIDENCE = 0.1, 0.25  # the glass node's defaults
COLUMNS = (
    "features",
    "dim",
    "in-domain false alarms",
    "real frames flagged",
    "real crops flagged",
    "AUROC frames / crops",
)

Features = Callable[[Classifier, Sequence[np.ndarray]], np.ndarray]


def network_features(
    classifier: Classifier,
    images: Sequence[np.ndarray],
    blocks: range,
    scale: int = 1,
    penultimate: bool = True,
) -> np.ndarray:
    """Channel statistics of ``features[blocks]`` (and the output layer's input), the network run
    at ``scale`` times its input size."""
    size = classifier.preprocessing.image_size * scale
    prep = Preprocessing(size, classifier.preprocessing.mean, classifier.preprocessing.std)
    runner = Classifier(classifier.model, classifier.classes, prep, "cpu")
    points = [TapPoint(classifier.model.features[b], channel_statistics, output=True) for b in blocks]
    tap = FeatureTap([*points, TapPoint(last_linear(classifier.model))] if penultimate else points)
    runner.probabilities(images)
    features = tap.take()
    tap.remove()
    return features


def pixel_statistics(images: Sequence[np.ndarray]) -> np.ndarray:
    """17 numbers per crop at its own resolution: colour mean and spread, noise residual (pixel
    minus its 3x3 median), Laplacian and gradient strength, saturation, colour count."""
    return np.array([_pixel_row(image) for image in images])


def _pixel_row(image: np.ndarray) -> np.ndarray:
    pixels = image.reshape(-1, 3).astype(np.float32)
    residual = (image.astype(np.float32) - cv2.medianBlur(image, 3)).reshape(-1, 3)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    saturation = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1].astype(np.float32)
    colours = len(np.unique(pixels.astype(np.uint8) // 8, axis=0)) / len(pixels)
    return np.concatenate(
        [
            pixels.mean(0),
            pixels.std(0),
            residual.std(0),
            np.log1p([cv2.Laplacian(grey, cv2.CV_32F).var(), np.abs(residual).mean()]),
            np.log1p(np.quantile(gradient, [0.5, 0.9, 0.99])),
            [saturation.mean(), saturation.std(), colours],
        ]
    )


VARIANTS: dict[str, Features] = {
    "shipped: blocks 1-5 + output layer input": lambda c, i: network_features(c, i, range(1, 6)),
    "blocks 1-5 alone": lambda c, i: network_features(c, i, range(1, 6), penultimate=False),
    "blocks 0-3 alone": lambda c, i: network_features(c, i, range(0, 4), penultimate=False),
    "blocks 1-10 + output layer input": lambda c, i: network_features(c, i, range(1, 11)),
    "blocks 0-18 + output layer input": lambda c, i: network_features(c, i, range(0, 19)),
    "shipped, network at 192 px": lambda c, i: network_features(c, i, range(1, 6), scale=2),
    "pixel statistics alone": lambda c, i: pixel_statistics(i),
    "pixel statistics + shipped": lambda c, i: np.hstack(
        [pixel_statistics(i), network_features(c, i, range(1, 6))]
    ),
}


def real_crops(detector: Detector, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """What the glass node would cut from real frames: every detector box, padded."""
    crops = [
        crop_with_padding(frame, detection.xyxy, CROP_PADDING)
        for frame in frames
        for detection in detector.detect(frame, conf=CROP_CONFIDENCE)
    ]
    return [crop for crop in crops if min(crop.shape[:2]) >= 8]


def measure(classifier: Classifier, sets: dict[str, list[np.ndarray]], features: Features) -> list[str]:
    """Table cells of one variant: its dimension, false alarms, real sets flagged, AUROCs."""
    measured = {name: features(classifier, images) for name, images in sets.items()}
    classifier.domain_verdicts()  # empties the shipped statistics' own tap, which saw every pass
    statistics = fit_statistics(measured["train"], measured["calibration"], 0.01)
    scores = {name: statistics.distances(values) / statistics.threshold for name, values in measured.items()}
    aurocs = [auroc(scores["in_domain"], scores[name]) for name in ("real frames", "real crops")]
    return [
        str(measured["train"].shape[1]),
        *(fraction(rate(scores[name] > 1.0)) for name in ("in_domain", "real frames", "real crops")),
        " / ".join(f"{value:.3f}" for value in aurocs),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--docs", type=Path, default=REPO_ROOT / "docs", help="where ood.md lives")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    path = args.models_dir / GLASS
    metadata = read_metadata(path)
    classifier = Classifier.load(path, device="cpu")
    frames = evaluation_frames()
    sets = {
        "train": list(training_images(metadata, 1000)),
        "calibration": list(
            held_out_images(metadata, int(metadata["dataset"]["seed"]), CALIBRATION_SPLIT, 400)
        ),
        "in_domain": list(held_out_images(metadata, EVAL_SEED, EVAL_SPLIT, 400)),
        "real frames": frames,
        "real crops": real_crops(Detector.load(args.models_dir / DETECTOR, device="cpu"), frames),
    }
    rows = []
    for name, features in VARIANTS.items():
        LOG.info("%s", name)
        rows.append([name, *measure(classifier, sets, features)])
    lines = markdown_table(COLUMNS, rows)
    text = "\n".join([*lines, "", f"Reproduce: `{shlex.join([*PROG.split(), *argv])}`"])
    write_table(args.docs / "ood.md", text, MARKERS)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
