"""``python -m perception_training.ood.real_photo_report``: what detectors and captioners do on the
real photos no model was trained on (issue 15, part 2), in one command.

Only the evaluation photos of :mod:`perception_training.ood.real_photos` are used (the reserved
photo is never read): their camera views (``evaluation_views``, as docs/ood.md measures them)
and the full photos, with the persons drawn by hand in ``tests/data/real_photos_coco.json``.

Per detector: knife boxes at score >= 0.25 per frame and per full photo, frames with a knife
at >= 0.5, persons and cups found (recall at IoU >= 0.5 on the full photos; a class nobody
labelled is said to be so), and the frames out of domain as the detector node judges them
(the artifact's domain statistics, then the frame-quality check). Per captioner (greedy,
grounded: the shipped configs' decoding): the captions that raise a knife alert under the
hazard node's rules (``config/hazards.yaml``), each caption listed in the JSON, and the
frames out of domain. "Knife" is the hazard rule's: its words for captions, its detector
classes for boxes. Prints a Markdown table; ``--json`` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from perception.core.caption_api import BaseCaptioner, load_captioner
from perception.core.detections import Detection
from perception.core.detector import Detector
from perception.core.detector_api import DetectorModel
from perception.core.domain_verdict import DomainVerdict, worst
from perception.core.frame_quality import FrameQualityCheck
from perception.core.hazards import HazardMatcher, load_hazard_rules
from perception_training.detector.benchmark import precision_recall
from perception_training.detector.coco import read_coco
from perception_training.engine.tables import markdown_table
from perception_training.ood import real_photos
from perception_training.ood.evaluate import fraction, rate

LOG = logging.getLogger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[3]
DETECTORS = ("detector/yolo11n_synthetic.safetensors",)
CAPTIONERS = ("captioner/mnv3_gru_en.safetensors", "captioner/mnv3_gru_ko.safetensors")
LABELS = REPO_ROOT / "tests" / "data" / "real_photos_coco.json"
RULES = REPO_ROOT / "ros_ws" / "src" / "perception" / "config" / "hazards.yaml"
MIN_SCORE = 0.25  # issue 15's knife-box threshold; desktop.yaml's detector confidence
HIGH_SCORE = 0.5
KNIFE = "knife"  # the hazard rule the counts are about
FOUND = ("person", "cup")  # issue 15: "real cups and people found"
PROG = "python -m perception_training.ood.real_photo_report"


@dataclass(frozen=True)
class Frame:
    """One image a model is run on: a camera view (``view`` >= 0) or the full photo (``view`` -1)."""

    photo: str
    view: int
    image: np.ndarray


def frame_sets(views: int | None = None) -> dict[str, list[Frame]]:
    """``frames``: the first ``views`` camera views of each evaluation photo (all by default);
    ``photos``: the full evaluation photos."""
    return {
        "frames": [
            Frame(name, index, image)
            for name, images in real_photos.evaluation_views().items()
            for index, image in enumerate(images[:views])
        ],
        "photos": [Frame(name, -1, real_photos.load_photo(name)) for name in real_photos.EVALUATION],
    }


def labelled_boxes(labels: Path) -> dict[str, list[Detection]]:
    """The hand-drawn boxes of each evaluation photo, read with the project's COCO reader from a
    copy of ``labels`` that lists only the evaluation photos (linked beside it)."""
    document = json.loads(labels.read_text(encoding="utf-8"))
    images = [
        image for image in document["images"] if Path(image["file_name"]).stem in real_photos.EVALUATION
    ]
    missing = set(real_photos.EVALUATION) - {Path(image["file_name"]).stem for image in images}
    if missing:
        raise SystemExit(f"{labels} labels no image of the evaluation photos {sorted(missing)}")
    ids = {image["id"] for image in images}
    kept = {
        **document,
        "images": images,
        "annotations": [a for a in document["annotations"] if a.get("image_id") in ids],
    }
    with tempfile.TemporaryDirectory(prefix="real_photo_labels_") as folder:
        for image in images:
            (Path(folder) / image["file_name"]).symlink_to(
                real_photos.photo_path(Path(image["file_name"]).stem)
            )
        (Path(folder) / labels.name).write_text(json.dumps(kept))
        coco = read_coco(Path(folder) / labels.name)
    return {
        image.path.stem: [Detection(c, coco.classes[c], 1.0, *box) for c, *box in image.boxes]
        for image in coco.images
    }


class KnifeRules:
    """The hazard node's rules, each caption or box judged on its own (no cooldown between them)."""

    def __init__(self, path: Path) -> None:
        rules = load_hazard_rules(path)
        if KNIFE not in {rule.name for rule in rules}:
            raise SystemExit(f"{path} has no {KNIFE!r} hazard rule")
        self.matcher = HazardMatcher([replace(rule, cooldown_s=0.0) for rule in rules])

    def caption_hazards(self, caption: str) -> list[str]:
        """The hazards ``caption`` raises, most severe first."""
        return [alert.hazard for alert in self.matcher.match_caption(caption)]

    def is_knife(self, detection: Detection) -> bool:
        return any(alert.hazard == KNIFE for alert in self.matcher.match_detections([detection.class_name]))


@dataclass(frozen=True)
class Judged:
    """A frame's verdict as a model node gives it: the model's, out also when the frame is too
    small or too blurred."""

    frame: Frame
    verdict: DomainVerdict

    @classmethod
    def of(cls, frame: Frame, verdict: DomainVerdict) -> Judged:
        return cls(frame, FrameQualityCheck().assess(frame.image).applied_to(verdict))

    def entry(self) -> dict[str, Any]:
        return {
            "photo": self.frame.photo,
            "view": self.frame.view,
            "domain_score": round(self.verdict.score, 4),
            "in_domain": self.verdict.in_domain,
        }


def domain_share(judged: Sequence[Judged]) -> dict[str, Any]:
    """Frames out of domain, and how many no statistics scored (those count as in domain)."""
    return {
        **rate(np.array([not j.verdict.in_domain for j in judged], dtype=bool)),
        "not_scored": sum(j.verdict.score < 0.0 for j in judged),
    }


def detector_figures(
    model: DetectorModel,
    sets: Mapping[str, Sequence[Frame]],
    truths: Mapping[str, Sequence[Detection]],
    knife: KnifeRules,
) -> dict[str, Any]:
    """Knife boxes and the domain share on every frame set, persons and cups found on the full photos."""
    report: dict[str, Any] = {"model_id": model.model_id, "classes": model.class_names}
    for name, frames in sets.items():
        detections: list[list[Detection]] = []
        judged: list[Judged] = []
        for frame in frames:
            detections.append(model.detect(frame.image, conf=MIN_SCORE))
            judged.append(Judged.of(frame, model.domain_verdict()))
        report[name] = knife_counts(detections, judged, knife)
        if name == "photos":
            report["found"] = found(model.class_names, detections, [truths[f.photo] for f in frames])
    return report


def knife_counts(
    detections: Sequence[Sequence[Detection]], judged: Sequence[Judged], knife: KnifeRules
) -> dict[str, Any]:
    """Knife boxes at >= ``MIN_SCORE`` (per frame), frames with any and with one at >= ``HIGH_SCORE``,
    those frames in domain (a knife alert with the shipped configs), and each frame's knife scores."""
    scores = [
        sorted((d.score for d in frame if knife.is_knife(d) and d.score >= MIN_SCORE), reverse=True)
        for frame in detections
    ]
    boxes = sum(len(s) for s in scores)
    return {
        "count": len(judged),
        "knife_boxes": boxes,
        "knife_boxes_per_frame": round(boxes / len(judged), 3) if judged else None,
        "frames_with_knife": sum(bool(s) for s in scores),
        f"frames_with_knife_at_{HIGH_SCORE}": sum(bool(s) and s[0] >= HIGH_SCORE for s in scores),
        "knife_frames_in_domain": sum(
            bool(s) and j.verdict.in_domain for s, j in zip(scores, judged, strict=True)
        ),
        "out_of_domain": domain_share(judged),
        "per_frame": [
            {**j.entry(), "knife_scores": [round(v, 4) for v in s]}
            for s, j in zip(scores, judged, strict=True)
        ],
    }


def found(
    class_names: Sequence[str],
    detections: Sequence[Sequence[Detection]],
    truths: Sequence[Sequence[Detection]],
) -> dict[str, dict[str, Any]]:
    """Per class of ``FOUND``: the boxes predicted at score >= ``MIN_SCORE`` and the labelled ones
    found among them at IoU >= 0.5, or why recall is not measured (nothing labelled, no such class)."""
    recalls = precision_recall(detections, truths, MIN_SCORE)
    result: dict[str, dict[str, Any]] = {}
    for name in FOUND:
        labelled = sum(t.class_name == name for image in truths for t in image)
        if name not in class_names:
            result[name] = {"labelled": labelled, "note": f"the detector has no {name!r} class"}
            continue
        predicted = sum(d.class_name == name and d.score >= MIN_SCORE for image in detections for d in image)
        result[name] = {"labelled": labelled, "predicted": predicted}
        if labelled:
            recall = recalls[name]["recall"]
            result[name] |= {"found": round(recall * labelled), "recall": recall}
        else:
            result[name]["note"] = f"no {name} is labelled in the evaluation photos"
    return result


def captioner_figures(
    captioner: BaseCaptioner, sets: Mapping[str, Sequence[Frame]], knife: KnifeRules
) -> dict[str, Any]:
    """Each frame's caption (as the caption node makes it), the hazards it raises, and its verdict."""
    report: dict[str, Any] = {"language": captioner.metadata.get("language")}
    for name, frames in sets.items():
        captions: list[tuple[str, float, list[str]]] = []
        judged: list[Judged] = []
        for frame in frames:
            text, score = captioner.caption(frame.image)
            judged.append(Judged.of(frame, worst(captioner.domain_verdicts())))
            captions.append((text, score, knife.caption_hazards(text)))
        naming = [KNIFE in hazards for _, _, hazards in captions]
        report[name] = {
            "count": len(frames),
            "knife_captions": sum(naming),
            "knife_captions_in_domain": sum(
                n and j.verdict.in_domain for n, j in zip(naming, judged, strict=True)
            ),
            "out_of_domain": domain_share(judged),
            "captions": [
                {**j.entry(), "caption": text, "score": round(score, 4), "hazards": hazards}
                for (text, score, hazards), j in zip(captions, judged, strict=True)
            ],
        }
    return report


DETECTOR_COLUMNS = (
    "detector",
    "knife boxes / frame",
    f"frames with a knife >= {MIN_SCORE}, >= {HIGH_SCORE}",
    "of those in domain",
    "knife boxes / full photo",
    "persons found (IoU >= 0.5, full photos)",
    "cups found",
    "frames out of domain",
)
CAPTIONER_COLUMNS = (
    "captioner",
    "frames whose caption names a knife",
    "of those in domain",
    "full photos whose caption names a knife",
    "frames out of domain",
)


def markdown(report: Mapping[str, Any]) -> str:
    """The detector and captioner tables, and how the report was made."""
    counts = report["counts"]
    detectors = [
        [
            Path(entry["artifact"]).name,
            _per_frame(entry["frames"]),
            _knife_frames(entry["frames"]),
            str(entry["frames"]["knife_frames_in_domain"]),
            _per_frame(entry["photos"]),
            *(_found(entry["found"][name]) for name in FOUND),
            _share(entry["frames"]["out_of_domain"]),
        ]
        for entry in report["detectors"]
    ]
    captioners = [
        [
            Path(entry["artifact"]).name,
            f"{entry['frames']['knife_captions']}/{entry['frames']['count']}",
            str(entry["frames"]["knife_captions_in_domain"]),
            f"{entry['photos']['knife_captions']}/{entry['photos']['count']}",
            _share(entry["frames"]["out_of_domain"]),
        ]
        for entry in report["captioners"]
    ]
    return "\n".join(
        [
            f"{counts['frames']} camera views of the evaluation photos ({', '.join(report['photo_names'])}) "
            f"and the {counts['photos']} full photos; never used: {', '.join(report['reserved'])}. "
            f"Boxes at score >= {MIN_SCORE}.",
            "",
            *markdown_table(DETECTOR_COLUMNS, detectors),
            "",
            *markdown_table(CAPTIONER_COLUMNS, captioners),
            "",
            f"Reproduce: `{report['command']}`",
        ]
    )


def _knife_frames(counts: Mapping[str, Any]) -> str:
    return (
        f"{counts['frames_with_knife']}/{counts['count']}, "
        f"{counts[f'frames_with_knife_at_{HIGH_SCORE}']}/{counts['count']}"
    )


def _per_frame(counts: Mapping[str, Any]) -> str:
    return f"{counts['knife_boxes_per_frame']} ({counts['knife_boxes']} in {counts['count']})"


def _found(entry: Mapping[str, Any]) -> str:
    if "recall" in entry:
        return f"{entry['found']}/{entry['labelled']} ({entry['recall']:.2f}); {entry['predicted']} boxes"
    if "predicted" in entry:
        return f"none labelled; {entry['predicted']} boxes"
    return entry["note"]


def _share(share: Mapping[str, Any]) -> str:
    scored = f", {share['not_scored']} not scored" if share["not_scored"] else ""
    return fraction(share) + scored


def report(
    detectors: Sequence[Path],
    captioners: Sequence[Path],
    labels: Path = LABELS,
    rules: Path = RULES,
    views: int | None = None,
    device: str = "cpu",
    command: str = PROG,
) -> dict[str, Any]:
    """Every figure of every artifact on the evaluation photos."""
    sets = frame_sets(views)
    truths = labelled_boxes(labels)
    knife = KnifeRules(rules)
    return {
        "command": command,
        "photo_names": list(real_photos.EVALUATION),
        "photos_used": {name: real_photos.PHOTOS[name] for name in real_photos.EVALUATION},
        "reserved": list(real_photos.RESERVED),
        "labels": str(labels),
        "labelled": {name: len(boxes) for name, boxes in truths.items()},
        "rules": str(rules),
        "min_score": MIN_SCORE,
        "counts": {name: len(frames) for name, frames in sets.items()},
        "detectors": [
            {
                "artifact": str(path),
                **detector_figures(Detector.load(path, device=device), sets, truths, knife),
            }
            for path in detectors
        ],
        "captioners": [
            {"artifact": str(path), **captioner_figures(load_captioner(path, device=device), sets, knife)}
            for path in captioners
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models-dir", type=Path, default=REPO_ROOT / "models", help="relative paths start here"
    )
    parser.add_argument("--detectors", nargs="*", default=list(DETECTORS), help=".safetensors, .onnx or .pt")
    parser.add_argument("--captioners", nargs="*", default=list(CAPTIONERS), help=".safetensors or .onnx")
    parser.add_argument("--labels", type=Path, default=LABELS, help="COCO instances JSON of the photos")
    parser.add_argument("--rules", type=Path, default=RULES, help="the hazard node's rules")
    parser.add_argument(
        "--views", type=int, default=None, help="first N camera views of each photo (default all)"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="write every figure and caption here")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    result = report(
        [args.models_dir / path for path in args.detectors],
        [args.models_dir / path for path in args.captioners],
        args.labels,
        args.rules,
        args.views,
        args.device,
        shlex.join([*PROG.split(), *argv]),
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        LOG.info("wrote %s", args.json)
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
