"""``perception-train ood-calibrate --artifact A``: give an artifact its domain statistics.

Regenerates the artifact's training images from the synthetic world (its metadata names the
generator, seed, size and counts; sim-to-real options are left out, ``sources._plain_world``
says why), fits the mean and Ledoit-Wolf covariance of the model's penultimate features on them,
and sets the distance threshold at the (1 - rate) quantile of held-out images drawn like the
training ones (split ``ood-calibration``, which no trainer uses, at the camera's 640x480; a
detector's over 640x480 and 1280x720 frames at its input size and at 640, ``sources.views``). The
artifact is rewritten in place with the statistics added; its network weights are not touched
(``domain.model_weights_sha256`` is the digest of the network tensors alone, equal to the
``weights_sha256`` the artifact had before statistics). Refresh models/manifest.json afterwards
(``python -m perception_training.manifest``).
"""

from __future__ import annotations

import argparse
import logging
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import save

from perception.core.artifacts import load_artifact, read_metadata, save_artifact, utc_now, weights_digest
from perception.core.domain import METADATA_KEY, DomainStatistics, model_tensors
from perception_training.ood.probes import measure_all, open_probe
from perception_training.ood.sources import (
    CALIBRATION_SPLIT,
    held_out_images,
    regenerable,
    sizes,
    training_images,
    training_kinds,
    views,
)
from perception_training.ood.statistics import fit_statistics

LOG = logging.getLogger(__name__)
PROG = "perception-train ood-calibrate"
DEFAULT_FIT = 1000  # training images, or all of them when there are fewer
DEFAULT_CALIBRATION = 400
DEFAULT_FALSE_ALARM_RATE = 0.01
FEATURES = {
    "detector": "mean and std of each channel of layers 1-5, and the detection head's inputs "
    "(3 scales) averaged over space",
    "classifier": "mean and std of each channel of features 1-5, and the output layer's input",
    "captioner": "mean and std of each channel of encoder features 1-5, and the encoder grid averaged",
    "sign": "mean and std of each channel of the stem and stages 2-5 over time and space, and the "
    "head's projection input",
}


def calibrate_artifact(
    path: Path,
    fit: int = DEFAULT_FIT,
    calibration: int = DEFAULT_CALIBRATION,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    command: str = "",
) -> DomainStatistics:
    """Fit, calibrate and write the domain statistics of the artifact at ``path``; return them.

    The one function a trainer calls after writing an artifact of the synthetic world.
    """
    _, metadata = load_artifact(path)
    kind, seed, seen = metadata["kind"], int(metadata["dataset"]["seed"]), views(metadata)
    fit_each, calibration_each = -(-fit // len(seen)), -(-calibration // len(seen))
    training_parts, held_out_parts = [], []
    for view in seen:
        probe, _ = open_probe(path, view.input_size)
        LOG.info("%s: features of up to %d training images, %s", path, fit_each, view)
        training_parts.append(measure_all(probe, training_images(metadata, fit_each, view.camera))[0])
        LOG.info(
            "%s: %d held-out images (seed %d, split %s)", path, calibration_each, seed, CALIBRATION_SPLIT
        )
        held_out = held_out_images(metadata, seed, CALIBRATION_SPLIT, calibration_each, size=view.camera)
        held_out_parts.append(measure_all(probe, held_out)[0])
    training, held_out = np.concatenate(training_parts), np.concatenate(held_out_parts)
    training_size, held_out_size = sizes(metadata)
    options = metadata["dataset"].get("sim2real", ())  # left out of the statistics (sources._plain_world)
    info = {
        "features": FEATURES[kind],
        "fit": {"seed": seed, "split": "train", "images": len(training), "size": training_size},
        "calibration": {
            "kinds": list(training_kinds(metadata)),
            "seed": seed,
            "split": CALIBRATION_SPLIT,
            "images": len(held_out),
            "size": held_out_size,
        },
        **({"views": [view.to_metadata() for view in seen]} if len(seen) > 1 else {}),
        **({"sim2real": "off (training data: " + ", ".join(options) + ")"} if options else {}),
        "command": command or shlex.join([*PROG.split(), "--artifact", str(path)]),
        "created": utc_now(),
    }
    statistics = fit_statistics(training, held_out, false_alarm_rate, info)
    write_statistics(path, statistics)
    return statistics


def calibrate_trained(path: Path, calibration: int) -> DomainStatistics | None:
    """What a trainer calls after writing its artifact: calibrate it on ``calibration`` held-out
    images when its data came from the synthetic world, which can draw them again; None when it
    did not (a user's data set) or ``calibration`` is 0."""
    if not calibration:
        return None
    if not regenerable(read_metadata(path)):
        LOG.info("%s: not trained on the synthetic world, so no domain statistics (docs/ood.md)", path)
        return None
    return calibrate_artifact(path, calibration=calibration)


def write_statistics(path: Path, statistics: DomainStatistics) -> None:
    """Rewrite the artifact with ``statistics`` (replacing any it had); network tensors unchanged."""
    tensors, metadata = load_artifact(path)
    network = model_tensors(tensors)
    metadata[METADATA_KEY] = {
        **statistics.to_metadata(),
        "model_weights_sha256": weights_digest(save({k: v.contiguous() for k, v in network.items()})),
    }
    save_artifact(path, {**network, **statistics.to_tensors()}, metadata)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artifact", type=Path, required=True, help="artifact, updated in place")
    parser.add_argument("--fit", type=int, default=DEFAULT_FIT, help="training images to fit on (at most)")
    parser.add_argument(
        "--calibration", type=int, default=DEFAULT_CALIBRATION, help="held-out scenes to calibrate on"
    )
    parser.add_argument(
        "--false-alarm-rate",
        type=float,
        default=DEFAULT_FALSE_ALARM_RATE,
        help="share of held-out in-domain frames flagged out of domain",
    )
    argv = list(argv or [])
    args = parser.parse_args(argv)
    statistics = calibrate_artifact(
        args.artifact, args.fit, args.calibration, args.false_alarm_rate, shlex.join([*prog.split(), *argv])
    )
    print(_summary(args.artifact, statistics.to_metadata()))
    print("refresh models/manifest.json if it lists this file: python -m perception_training.manifest")
    return 0


def _summary(path: Path, info: dict[str, Any]) -> str:
    return (
        f"{path}: {info['dim']}-d features of {info['fit_samples']} training images, shrinkage "
        f"{info['shrinkage']:.3f}; threshold {info['threshold']:.3f} flags {info['false_alarm_rate']:.1%} "
        f"of {info['calibration_samples']} held-out scenes"
    )
