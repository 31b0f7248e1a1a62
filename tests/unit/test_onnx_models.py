"""ONNX exports against the torch models they come from, and the errors of bad ONNX files.

Tolerances (float32 in both runtimes, different kernels): boxes within 0.01 px, scores and
probabilities within 1e-4, domain scores within 1e-4 of their value (relative), captions the same
words. Measured: boxes 6e-5 px, scores 1e-6, probabilities 1e-6, domain scores 1e-7 relative,
caption encoder features 4e-6. Tiny random models built here cover each kind with domain
statistics; the committed exports are checked against their artifacts on synthetic frames.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from tiny_models import GLASS_TYPES, SIGN_SPEC, tiny_captioner, tiny_classifier, tiny_detector, tiny_sign

from perception.core.artifacts import ArtifactError, read_metadata, save_artifact, sha256_of
from perception.core.caption_api import preprocess_array
from perception.core.caption_onnx import DECODER_OUTPUTS, ENCODER_OUTPUTS, FEATURES, OnnxCaptioner
from perception.core.caption_search import banned_words
from perception.core.captioner import Captioner
from perception.core.classifier import Classifier
from perception.core.classifier_onnx import OnnxClassifier
from perception.core.detector import Detector, DetectorError
from perception.core.detector_onnx import OnnxDetector
from perception.core.domain_verdict import UNSCORED, DomainVerdict
from perception.core.onnx_session import CUDA, SessionOptions
from perception.core.sign import SignRecognizer
from perception.core.sign_onnx import OnnxSignRecognizer
from perception.core.video_clips import clip_array
from perception.core.video_models import frames_to_video, preprocess_clip
from perception_training.onnx_export.cli import export_onnx
from perception_training.synthetic import SceneWorld

MODELS = Path(__file__).resolve().parents[2] / "models"
BOX_PX, SCORE, RELATIVE = 0.01, 1e-4, 1e-4


def same_verdict(torch_verdict: DomainVerdict, onnx_verdict: DomainVerdict) -> None:
    assert torch_verdict.score > 0.0 and onnx_verdict.score == pytest.approx(
        torch_verdict.score, rel=RELATIVE
    )
    assert onnx_verdict.in_domain == torch_verdict.in_domain


def same_detections(torch_model: Detector, onnx_model: OnnxDetector, image: np.ndarray) -> int:
    expected, actual = torch_model.detect(image, conf=0.1), onnx_model.detect(image, conf=0.1)
    assert [d.class_name for d in actual] == [d.class_name for d in expected]
    for want, got in zip(expected, actual, strict=True):
        assert np.abs(np.subtract(got.xyxy, want.xyxy)).max() <= BOX_PX
        assert abs(got.score - want.score) <= SCORE
    same_verdict(torch_model.domain_verdict(), onnx_model.domain_verdict())
    return len(expected)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny")
    return {
        "detector": tiny_detector(folder / "detector.safetensors"),
        "classifier": tiny_classifier(folder / "glass.safetensors"),
        "sign": tiny_sign(folder / "sign.safetensors"),
        "captioner": tiny_captioner(folder / "captioner.safetensors"),
    }


@pytest.fixture(scope="module")
def exports(artifacts: dict[str, Path]) -> dict[str, Path]:
    outputs = {"detector": ["output0"], "captioner": [*ENCODER_OUTPUTS, *DECODER_OUTPUTS]}
    written = {}
    for kind, artifact in artifacts.items():
        path, differences = export_onnx(artifact)
        assert path == artifact.with_suffix(".onnx")
        assert set(differences) == {*outputs.get(kind, ["probabilities"]), "domain_score"}
        assert max(differences.values()) < 1e-3, differences
        written[kind] = path
    return written


def test_export_carries_the_artifact_metadata_and_its_source(artifacts, exports) -> None:
    loaded = OnnxClassifier.load(exports["classifier"])
    metadata = loaded.session.metadata
    assert {k: v for k, v in metadata.items() if k not in ("onnx",)} == read_metadata(artifacts["classifier"])
    assert metadata["onnx"]["source"] == "glass.safetensors"
    assert metadata["onnx"]["source_sha256"] == sha256_of(artifacts["classifier"])
    assert metadata["onnx"]["outputs"] == ["probabilities", "domain_score"]
    assert loaded.classes == GLASS_TYPES and loaded.model_id.startswith("glass.onnx@")


def test_tiny_detector_scores_every_frame_as_torch_does(artifacts, exports) -> None:
    torch_model = Detector.load(artifacts["detector"], device="cpu")
    onnx_model = OnnxDetector.load(exports["detector"])
    assert onnx_model.class_names == torch_model.class_names and onnx_model.imgsz == torch_model.imgsz == 64
    rng = np.random.default_rng(0)
    for size in ((640, 480), (300, 500), (64, 64)):
        image = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        torch_model.detect(image)
        onnx_model.detect(image)
        same_verdict(torch_model.domain_verdict(), onnx_model.domain_verdict())


def test_committed_detector_export_gives_the_artifacts_detections() -> None:
    torch_model = Detector.load(MODELS / "detector" / "yolo11n_synthetic.safetensors", device="cpu")
    onnx_model = OnnxDetector.load(MODELS / "detector" / "yolo11n_synthetic.onnx")
    world = SceneWorld(5)
    sizes = [(640, 480)] * 3 + [(1280, 720), (300, 500)]
    boxes = sum(
        same_detections(torch_model, onnx_model, world.scene(i, "test", size=s).image)
        for i, s in enumerate(sizes)
    )
    assert boxes >= 10, "the frames must hold boxes for the comparison to mean anything"


def test_classifiers_give_torchs_probabilities_and_crop_scores(artifacts, exports) -> None:
    committed = (
        MODELS / "glass" / "mobilenet_v2_glass.safetensors",
        MODELS / "glass" / "mobilenet_v2_glass.onnx",
    )
    rng = np.random.default_rng(1)
    crops = [rng.integers(0, 256, (40 + 9 * i, 30 + 7 * i, 3), dtype=np.uint8) for i in range(5)]
    for artifact, export in ((artifacts["classifier"], exports["classifier"]), committed):
        torch_model = Classifier.load(artifact, device="cpu", batch_size=2)
        onnx_model = OnnxClassifier.load(export, batch_size=2)  # batches of 2, 2 and 1 crops
        np.testing.assert_allclose(
            onnx_model.probabilities(crops), torch_model.probabilities(crops).numpy(), atol=SCORE
        )
        expected, actual = torch_model.predict(crops), onnx_model.predict(crops)
        assert [p.class_id for p in actual] == [p.class_id for p in expected]
        assert [p.score for p in actual] == pytest.approx([p.score for p in expected], abs=SCORE)
        verdicts = list(zip(torch_model.domain_verdicts(), onnx_model.domain_verdicts(), strict=True))
        assert len(verdicts) == 2 * len(crops)
        for torch_verdict, onnx_verdict in verdicts:
            same_verdict(torch_verdict, onnx_verdict)


def test_sign_model_gives_torchs_probabilities_and_clip_score(artifacts, exports) -> None:
    torch_model = SignRecognizer.load(artifacts["sign"], device="cpu")
    onnx_model = OnnxSignRecognizer.load(exports["sign"])
    assert (onnx_model.spec, onnx_model.classes, onnx_model.clip_duration) == (
        torch_model.spec,
        torch_model.classes,
        torch_model.clip_duration,
    )
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (32, 43, 3), dtype=np.uint8) for _ in range(7)]  # as the node downscales
    np.testing.assert_allclose(onnx_model.predict(frames), torch_model.predict(frames), atol=SCORE)
    same_verdict(torch_model.domain_verdict(), onnx_model.domain_verdict())
    ranked = [p.word for p in onnx_model.top_k(onnx_model.predict(frames), 2)]
    assert ranked == [p.word for p in torch_model.top_k(torch_model.predict(frames), 2)]


def same_captions(torch_model: Captioner, onnx_model: OnnxCaptioner, frames: list[np.ndarray]) -> None:
    """Greedy over the batch and beam search per frame give the same words, scores and verdicts."""
    for beam_size in (1, 3):
        torch_model.beam_size = onnx_model.beam_size = beam_size
        expected, actual = torch_model.caption_batch(frames), onnx_model.caption_batch(frames)
        assert [text for text, _ in actual] == [text for text, _ in expected]
        assert [score for _, score in actual] == pytest.approx([s for _, s in expected], abs=SCORE)
        verdicts = list(zip(torch_model.domain_verdicts(), onnx_model.domain_verdicts(), strict=True))
        assert len(verdicts) == len(frames)
        for torch_verdict, onnx_verdict in verdicts:
            same_verdict(torch_verdict, onnx_verdict)


def test_captioners_give_torchs_features_captions_and_frame_scores(artifacts, exports) -> None:
    torch_model = Captioner.load(artifacts["captioner"], device="cpu")
    onnx_model = OnnxCaptioner.load(exports["captioner"])
    assert onnx_model.grounding == torch_model.grounding is not None
    rng = np.random.default_rng(4)
    frames = [rng.integers(0, 256, (48 + 16 * i, 64, 3), dtype=np.uint8) for i in range(4)]
    batch = preprocess_array(frames, torch_model.image_size)
    features = torch_model.encode(batch).features.numpy()
    difference = np.abs(onnx_model.encode(batch).outputs[FEATURES] - features).max()
    assert difference <= RELATIVE * np.abs(features).max()
    banned = banned_words(onnx_model.encode(batch).concept_probabilities(), onnx_model.grounding)
    knife = onnx_model.vocabulary.word_map["knife"]
    assert banned is not None and 0 < banned[:, knife].sum() < len(frames), "grounding both ways"
    for model in (torch_model, onnx_model):
        model.domain_verdicts()  # the encoder passes above were scored too
    same_captions(torch_model, onnx_model, frames)
    assert len({text for text, _ in onnx_model.caption_batch(frames)}) > 1, "captions that can disagree"


def test_committed_captioner_export_gives_the_artifacts_captions() -> None:
    artifact = MODELS / "captioner" / "mnv3_gru_en.safetensors"
    torch_model, onnx_model = (
        Captioner.load(artifact, device="cpu"),
        OnnxCaptioner.load(artifact.with_suffix(".onnx")),
    )
    world = SceneWorld(23)
    frames = [world.scene(i, "test", "caption", size=(640, 480)).image for i in range(6)]
    same_captions(torch_model, onnx_model, frames)


def test_a_captioner_export_needs_its_decoder_part(tmp_path: Path, exports) -> None:
    decoder = exports["captioner"].with_suffix(".decoder.onnx")
    with pytest.raises(
        ArtifactError,
        match=r"captioner\.decoder\.onnx is the decoder part of a captioner export; "
        r"set model_path to the export itself, .*captioner\.onnx",
    ):
        OnnxCaptioner.load(decoder)
    alone = tmp_path / "alone.onnx"
    shutil.copy(exports["captioner"], alone)
    with pytest.raises(
        ArtifactError,
        match=r"alone\.decoder\.onnx does not exist; make it with "
        r"`perception-train export-onnx --artifact .*alone\.safetensors`",
    ):
        OnnxCaptioner.load(alone)


def test_clip_preprocessing_equals_torchvisions_at_the_crop_size() -> None:
    rng = np.random.default_rng(3)
    for shape in ((32, 43, 3), (45, 32, 3), (32, 32, 3)):
        frames = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(6)]
        picked = frames_to_video(frames, bgr=True)[[0, 2, 3, 5]]  # sample_indices(6, 4)
        expected = preprocess_clip(picked, SIGN_SPEC).numpy()[None]
        np.testing.assert_allclose(clip_array(frames, SIGN_SPEC), expected, atol=1e-6)
    ramp = np.linspace(0, 255, 86 * 64 * 3).reshape(64, 86, 3)
    larger = [np.uint8(ramp), np.uint8(255 - ramp)] * 2  # resized: another filter, alike on smooth frames
    approximate = preprocess_clip(frames_to_video(larger, bgr=True), SIGN_SPEC).numpy()[None]
    assert np.abs(clip_array(larger, SIGN_SPEC) - approximate).mean() < 0.1


def test_missing_and_corrupt_files_name_the_file_and_the_fix(tmp_path: Path, exports) -> None:
    with pytest.raises(
        DetectorError,
        match=r"nope\.onnx does not exist; make it with "
        r"`perception-train export-onnx --artifact .*nope\.safetensors`",
    ):
        OnnxDetector.load(tmp_path / "nope.onnx")
    truncated = tmp_path / "cut.onnx"
    truncated.write_bytes(exports["classifier"].read_bytes()[:50_000])
    with pytest.raises(
        ArtifactError,
        match=r"cut\.onnx is not a loadable ONNX model .* corrupt or truncated: "
        r"export it again with `perception-train export-onnx --artifact .*cut\.safetensors`",
    ):
        OnnxClassifier.load(truncated)
    with pytest.raises(DetectorError, match=r"glass\.onnx holds a 'classifier' model, expected 'detector'"):
        OnnxDetector.load(exports["classifier"])
    with pytest.raises(ArtifactError, match=r"holds a 'detector' model, expected 'sign'"):
        OnnxSignRecognizer.load(exports["detector"])


def test_a_gpu_provider_this_build_lacks_is_refused_with_the_fix(exports) -> None:
    import onnxruntime

    if CUDA in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(
        DetectorError,
        match=r"CUDAExecutionProvider is not in this onnxruntime build .* install onnxruntime-gpu",
    ):
        OnnxDetector.load(exports["detector"], SessionOptions(CUDA))


def test_a_manifest_listed_export_must_have_its_checksum(tmp_path: Path, exports) -> None:
    copy = tmp_path / "glass" / "glass.onnx"
    copy.parent.mkdir()
    shutil.copy(exports["classifier"], copy)
    manifest = {"artifacts": [], "exports": [{"file": "glass/glass.onnx", "sha256": "0" * 64}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        ArtifactError, match=r"glass\.onnx does not match .*manifest\.json: expected sha256 0{64}"
    ):
        OnnxClassifier.load(copy)
    manifest["exports"][0]["sha256"] = sha256_of(copy)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert OnnxClassifier.load(copy).classes == GLASS_TYPES


def test_an_export_older_than_its_artifact_warns(tmp_path: Path, artifacts, caplog) -> None:
    artifact = tmp_path / "glass.safetensors"
    shutil.copy(artifacts["classifier"], artifact)
    export, _ = export_onnx(artifact)
    with caplog.at_level(logging.WARNING, logger="perception.core"):
        OnnxClassifier.load(export)
    assert not caplog.text
    from perception.core.artifacts import load_artifact

    tensors, metadata = load_artifact(artifact)
    save_artifact(artifact, tensors, {**metadata, "domain": {**metadata["domain"], "threshold": 99.0}})
    with caplog.at_level(logging.WARNING, logger="perception.core"):
        OnnxClassifier.load(export)
    assert "was exported from another version of glass.safetensors" in caplog.text
    assert "perception-train export-onnx --artifact" in caplog.text


def test_export_refuses_kinds_it_does_not_cover(tmp_path: Path) -> None:
    import torch

    artifact = save_artifact(
        tmp_path / "c.safetensors", {"w": torch.ones(1)}, {"kind": "caption_encoder", "architecture": "x"}
    )
    with pytest.raises(
        ArtifactError,
        match="'caption_encoder' artifact; ONNX export covers captioner, classifier, detector, sign",
    ):
        export_onnx(artifact)


def test_an_artifact_without_statistics_exports_unscored(tmp_path: Path, artifacts) -> None:
    from perception.core.artifacts import load_artifact
    from perception.core.domain import model_tensors

    tensors, metadata = load_artifact(artifacts["classifier"])
    plain = save_artifact(
        tmp_path / "plain.safetensors",
        model_tensors(tensors),
        {k: v for k, v in metadata.items() if k != "domain"},
    )
    path, differences = export_onnx(plain)
    assert set(differences) == {"probabilities"}
    model = OnnxClassifier.load(path)
    model.predict([np.zeros((20, 20, 3), np.uint8)])
    assert model.domain_verdicts() == [] and not model.session.scored and UNSCORED.score < 0


def test_committed_exports_are_listed_and_current() -> None:
    manifest = json.loads((MODELS / "manifest.json").read_text())
    listed = {entry["file"]: entry for entry in manifest["exports"]}
    assert sorted(listed) == sorted(p.relative_to(MODELS).as_posix() for p in MODELS.rglob("*.onnx"))
    for file, entry in listed.items():
        assert sha256_of(MODELS / file) == entry["sha256"], (
            f"run `python -m perception_training.manifest` ({file})"
        )
        assert sha256_of(MODELS / entry["source"]) == entry["source_sha256"], (
            f"re-export: `{entry['regenerate']}`"
        )
