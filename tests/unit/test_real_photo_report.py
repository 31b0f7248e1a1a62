"""The real-photo report (issue 15, part 2): knife boxes, persons found, knife captions and domain
verdicts on the evaluation photos, never on the reserved one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from perception.core.detections import Detection
from perception.core.domain_verdict import UNSCORED, DomainVerdict, verdict_of
from perception_training.ood import real_photo_report, real_photos
from perception_training.ood.real_photo_report import Frame, KnifeRules, detector_figures

MODELS = Path(__file__).resolve().parents[2] / "models"


def box(
    name: str, score: float, x0: float = 0.0, y0: float = 0.0, x1: float = 10.0, y1: float = 10.0
) -> Detection:
    return Detection(0, name, score, x0, y0, x1, y1)


class FakeDetector:
    """Hands out prepared detections and verdicts, one frame per ``detect``."""

    model_id = "fake@000000000000"

    def __init__(self, outputs: Sequence[tuple[list[Detection], DomainVerdict]]) -> None:
        self.class_names = ["person", "cup", "knife"]
        self.outputs = list(outputs)
        self.verdict = UNSCORED

    def detect(self, image_bgr: np.ndarray, conf: float = 0.25, **_: object) -> list[Detection]:
        assert conf == real_photo_report.MIN_SCORE
        detections, self.verdict = self.outputs.pop(0)
        return detections

    def domain_verdict(self) -> DomainVerdict:
        return self.verdict


def test_knife_boxes_persons_and_verdicts_are_counted_from_detector_output() -> None:
    sharp = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    blank = np.zeros((480, 640, 3), np.uint8)
    sets = {
        "frames": [Frame("a", 0, sharp), Frame("a", 1, sharp), Frame("b", 0, blank)],
        "photos": [Frame("a", -1, sharp), Frame("b", -1, sharp)],
    }
    truths = {
        "a": [box("person", 1.0, 0, 0, 100, 100), box("person", 1.0, 200, 200, 300, 300)],
        "b": [box("tie", 1.0)],
    }
    model = FakeDetector(
        [
            # frames: two knives >= 0.25 (one >= 0.5), one below 0.25, a cup; in domain
            ([box("knife", 0.6), box("knife", 0.3), box("knife", 0.2), box("cup", 0.9)], verdict_of(0.5)),
            ([box("cup", 0.4)], verdict_of(1.5)),  # no knife, out of domain by its score
            ([box("knife", 0.4)], verdict_of(0.5)),  # in domain by its score, but blank: out
            # photos: one person found (IoU 0.81), a cup nobody labelled; unscored
            ([box("person", 0.8, 0, 0, 90, 90), box("cup", 0.3), box("knife", 0.26)], UNSCORED),
            ([box("person", 0.2, 0, 0, 10, 10)], UNSCORED),  # below the score: not a box
        ]
    )
    figures = detector_figures(model, sets, truths, KnifeRules(real_photo_report.RULES))
    frames, photos = figures["frames"], figures["photos"]
    assert (frames["count"], frames["knife_boxes"], frames["knife_boxes_per_frame"]) == (3, 3, 1.0)
    assert (frames["frames_with_knife"], frames["frames_with_knife_at_0.5"]) == (2, 1)
    assert frames["knife_frames_in_domain"] == 1
    assert frames["out_of_domain"] == {"flagged": 2, "of": 3, "rate": 0.6667, "not_scored": 0}
    assert [f["knife_scores"] for f in frames["per_frame"]] == [[0.6, 0.3], [], [0.4]]
    assert (photos["knife_boxes"], photos["knife_boxes_per_frame"], photos["knife_frames_in_domain"]) == (
        1,
        0.5,
        1,
    )
    assert photos["out_of_domain"] == {"flagged": 0, "of": 2, "rate": 0.0, "not_scored": 2}
    assert figures["found"]["person"] == {"labelled": 2, "predicted": 1, "found": 1, "recall": 0.5}
    assert figures["found"]["cup"]["labelled"] == 0 and figures["found"]["cup"]["predicted"] == 1
    assert "no cup is labelled" in figures["found"]["cup"]["note"]


def test_knife_rules_are_the_hazard_nodes() -> None:
    rules = KnifeRules(real_photo_report.RULES)
    assert rules.is_knife(box("knife", 0.9)) and not rules.is_knife(box("cup", 0.9))
    assert "knife" in rules.caption_hazards("two knives on a table")
    assert "knife" in rules.caption_hazards("탁자 위에 칼이 있다")
    assert "knife" not in rules.caption_hazards("a person next to a bus")


@pytest.mark.slow
def test_report_on_the_shipped_models_uses_only_the_evaluation_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_torch_thread: None
) -> None:
    shipped = [*real_photo_report.DETECTORS, *real_photo_report.CAPTIONERS]
    if not all((MODELS / name).is_file() for name in shipped):
        pytest.skip("the shipped models are not in this checkout")
    read: list[str] = []
    photo_path = real_photos.photo_path

    def spy(name: str) -> Path:
        read.append(name)
        return photo_path(name)

    monkeypatch.setattr(real_photos, "photo_path", spy)
    out = tmp_path / "report.json"
    try:
        assert real_photo_report.main(["--views", "1", "--json", str(out)]) == 0
    except FileNotFoundError as error:
        pytest.skip(f"packaged photo not installed: {error}")
    report = json.loads(out.read_text())
    assert set(read) == set(real_photos.EVALUATION) and not set(read) & set(real_photos.RESERVED)
    assert report["photo_names"] == list(real_photos.EVALUATION)
    assert report["counts"] == {"frames": len(real_photos.EVALUATION), "photos": len(real_photos.EVALUATION)}
    assert report["labelled"]["bus"] > 0 and report["labelled"]["zidane"] > 0
    (detector,) = report["detectors"]
    for name in ("frames", "photos"):
        counts = detector[name]
        for key in ("knife_boxes", "frames_with_knife", "frames_with_knife_at_0.5", "knife_frames_in_domain"):
            assert isinstance(counts[key], int) and counts[key] >= 0
        assert counts["frames_with_knife_at_0.5"] <= counts["frames_with_knife"] <= counts["count"]
        assert 0 <= counts["out_of_domain"]["flagged"] <= counts["count"]
        assert {f["photo"] for f in counts["per_frame"]} == set(real_photos.EVALUATION)
    person = detector["found"]["person"]
    assert (
        person["labelled"] > 0
        and 0.0 <= person["recall"] <= 1.0
        and 0 <= person["found"] <= person["labelled"]
    )
    cup = detector["found"]["cup"]  # the coffee photo's
    assert cup["labelled"] == 1 and 0 <= cup["found"] <= 1 and "note" not in cup
    assert [Path(c["artifact"]).name for c in report["captioners"]] == [
        Path(name).name for name in real_photo_report.CAPTIONERS
    ]
    for captioner in report["captioners"]:
        captions = captioner["frames"]["captions"]
        assert len(captions) == captioner["frames"]["count"] and all(c["caption"] for c in captions)
        assert captioner["frames"]["knife_captions"] == sum("knife" in c["hazards"] for c in captions)
        assert 0 <= captioner["frames"]["knife_captions_in_domain"] <= captioner["frames"]["knife_captions"]


@pytest.mark.slow
def test_an_onnx_captioner_reports_the_captions_of_its_artifact(
    tmp_path: Path, one_torch_thread: None
) -> None:
    pair = ["captioner/mnv3_gru_en.onnx", "captioner/mnv3_gru_en.safetensors"]
    if not all((MODELS / name).is_file() for name in pair):
        pytest.skip("the shipped captioner and its export are not in this checkout")
    out = tmp_path / "report.json"
    try:
        real_photo_report.main(["--detectors", "--captioners", *pair, "--views", "1", "--json", str(out)])
    except FileNotFoundError as error:
        pytest.skip(f"packaged photo not installed: {error}")
    onnx, torch = json.loads(out.read_text())["captioners"]
    assert onnx["artifact"].endswith(".onnx") and torch["artifact"].endswith(".safetensors")
    for name in ("frames", "photos"):
        assert [c["caption"] for c in onnx[name]["captions"]] == [
            c["caption"] for c in torch[name]["captions"]
        ]
        assert [c["in_domain"] for c in onnx[name]["captions"]] == [
            c["in_domain"] for c in torch[name]["captions"]
        ]
