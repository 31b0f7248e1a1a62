"""Calibrate a captioner's grounded words (e.g. knife): the concept-head threshold the decoder obeys.

``python -m perception_training.captioning.grounding --artifact A --words knife,knives`` renders
synthetic caption scenes that no model trained on (the ``val`` split, at a camera's 640x480),
drawn with the sim-to-real options the captioner's own training scenes had (the artifact's
``dataset.sim2real``, none for a plain world), scores the concept head's probability of each
word against whether the scene's reference captions use it, picks the lowest threshold whose
precision reaches ``--min-precision``, and writes ``grounding`` (words, threshold, the measured
precision/recall, how it was made) into the artifact's metadata; ``Captioner`` then applies it
(``perception.core.caption_decoding.Grounding``). A precision-recall plot goes beside the artifact.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from torchmetrics.functional.classification import binary_precision_recall_curve
from tqdm import tqdm

from perception.core.artifacts import load_artifact, save_artifact
from perception.core.captioner import model_from_artifact, preprocess
from perception.core.text import get_tokenizer
from perception_training.engine.flags import parse_size
from perception_training.synthetic import SceneWorld, captions

LOG = logging.getLogger(__name__)
_BATCH = 32


@dataclass(frozen=True)
class Calibration:
    threshold: float
    precision: float
    recall: float
    positives: int
    scenes: int


def calibration_world(metadata: Mapping[str, Any], seed: int) -> SceneWorld:
    """The world of ``seed`` with the sim-to-real options the artifact's training scenes were drawn
    with (its ``dataset.sim2real``; none for a plain synthetic world or a user's data set), so a
    sim-to-real captioner is calibrated on the kind of scene it was trained on."""
    return SceneWorld(seed, metadata.get("dataset", {}).get("sim2real", ()))


def concept_scores(
    artifact: Path, words: Sequence[str], count: int, seed: int, split: str, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(score, label) per scene: the likeliest word's concept probability, whether a reference uses any."""
    model, vocabulary, metadata = model_from_artifact(artifact)
    unknown = [word for word in words if word not in vocabulary.word_map]
    if unknown:
        raise SystemExit(f"{artifact}: {unknown} are not in its vocabulary; choose words it can say")
    ids = [vocabulary.word_map[word] for word in words]
    tokenizer = get_tokenizer(metadata["tokenizer"])
    image_size, language = int(metadata["input_size"][0]), metadata["language"]
    world = calibration_world(metadata, seed)
    scores, labels = [], []
    for start in tqdm(range(0, count, _BATCH), desc="calibration scenes", leave=False):
        scenes = [
            world.scene(index, split, "caption", size) for index in range(start, min(count, start + _BATCH))
        ]
        with torch.no_grad():
            probabilities = model.concept_probabilities(
                model.encoder(preprocess([s.image for s in scenes], image_size))
            )
        scores.append(probabilities[:, ids].amax(dim=1))
        used = [
            {token for text in captions(scene, language) for token in tokenizer.tokenize(text)}
            for scene in scenes
        ]
        labels.append(torch.tensor([any(word in tokens for word in words) for tokens in used]))
    return torch.cat(scores), torch.cat(labels).long()


def calibrate(scores: torch.Tensor, labels: torch.Tensor, min_precision: float) -> tuple[Calibration, tuple]:
    """The lowest threshold reaching ``min_precision`` (highest recall), and the PR curve."""
    precision, recall, thresholds = binary_precision_recall_curve(scores, labels)
    reaching = [i for i in range(len(thresholds)) if precision[i] >= min_precision]
    if not reaching:
        raise SystemExit(
            f"no threshold reaches precision {min_precision} (best {float(precision[:-1].max()):.2f}); "
            "lower --min-precision or train the captioner longer"
        )
    best = reaching[0]
    return (
        Calibration(
            round(float(thresholds[best]), 4),
            round(float(precision[best]), 4),
            round(float(recall[best]), 4),
            int(labels.sum()),
            len(labels),
        ),
        (precision, recall),
    )


def plot_curve(curve: tuple, chosen: Calibration, words: Sequence[str], path: Path) -> Path:
    precision, recall = curve
    figure, axis = plt.subplots(figsize=(5, 4))
    axis.plot(recall.numpy(), precision.numpy(), label="concept head")
    axis.scatter(
        [chosen.recall],
        [chosen.precision],
        color="tab:red",
        zorder=3,
        label=f"threshold {chosen.threshold:.2f}",
    )
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.set_xlim(0, 1.02)
    axis.set_ylim(0, 1.02)
    axis.set_title(f"grounded words: {', '.join(words)}")
    axis.legend(loc="lower left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(
    argv: Sequence[str] | None = None, prog: str = "python -m perception_training.captioning.grounding"
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--artifact", type=Path, required=True, help="captioner artifact, updated in place")
    parser.add_argument(
        "--words",
        required=True,
        help="comma-separated forms of one noun to ground together, e.g. knife,knives",
    )
    parser.add_argument("--synthetic", type=int, default=400, help="calibration scenes to render")
    parser.add_argument("--synthetic-seed", type=int, default=0)
    parser.add_argument("--split", default="val", help="world split to render (not the training split)")
    parser.add_argument("--size", default="640x480", metavar="WxH", help="render size: the camera's frame")
    parser.add_argument("--min-precision", type=float, default=0.9)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    words = [word.strip() for word in args.words.split(",") if word.strip()]
    size = parse_size(args.size, "--size")
    scores, labels = concept_scores(
        args.artifact, words, args.synthetic, args.synthetic_seed, args.split, size
    )
    chosen, curve = calibrate(scores, labels, args.min_precision)
    tensors, metadata = load_artifact(args.artifact, expected_kind="captioner")
    sim2real = calibration_world(metadata, args.synthetic_seed).sim2real
    groups = [group for group in metadata.get("grounding", []) if group["words"] != words]
    metadata["grounding"] = [
        *groups,
        {
            "words": words,
            "threshold": chosen.threshold,
            "calibration": {
                "precision": chosen.precision,
                "recall": chosen.recall,
                "positives": chosen.positives,
                "scenes_scored": chosen.scenes,
                "min_precision": args.min_precision,
                "scenes": {
                    "seed": args.synthetic_seed,
                    "split": args.split,
                    "count": args.synthetic,
                    "size": list(size),
                    **({"sim2real": list(sim2real)} if sim2real else {}),
                },
                "command": shlex.join([*prog.split(), *argv]),
            },
        },
    ]
    save_artifact(args.artifact, tensors, metadata)
    plot = plot_curve(curve, chosen, words, args.artifact.with_name(args.artifact.stem + "_grounding.png"))
    print(f"grounding {words}: threshold {chosen.threshold}, precision {chosen.precision}")
    print(f"recall {chosen.recall}; precision-recall plot: {plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
