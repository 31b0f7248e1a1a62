"""``perception-train ood-calibrate`` on a tiny glass classifier and a handful of synthetic crops,
and on a tiny sign model and a few signing clips: the artifact gains domain statistics, its
network weights stay byte for byte, and the model then scores its inputs with them (issue 15)."""

from __future__ import annotations

import numpy as np
import torch

from perception.core.artifacts import load_artifact, read_metadata, save_artifact
from perception.core.classifier import Classifier, Preprocessing, build_classifier
from perception.core.domain import METADATA_KEY, model_tensors
from perception.core.sign import IDLE_CLASS, SignRecognizer
from perception.core.video_models import VideoModelSpec, build_video_model
from perception_training.cli import COMMANDS
from perception_training.cli import main as perception_train
from perception_training.ood.calibrate import calibrate_trained
from perception_training.ood.sign_clips import SIGN_CLIPS, SIGN_GENERATOR, sign_clips
from perception_training.ood.sources import CALIBRATION_SPLIT, GENERATORS, GLASS_CROPS, held_out_images
from perception_training.sign.artifact import sign_metadata
from perception_training.synthetic import GLASS_TYPES

FIT, CALIBRATION, RATE = 9, 12, 0.1


def tiny_glass_artifact(path, **dataset):
    torch.manual_seed(0)
    model = build_classifier("mobilenet_v2", len(GLASS_TYPES), 32)
    metadata = {
        "kind": "classifier",
        "architecture": "mobilenet_v2",
        "classes": list(GLASS_TYPES),
        "preprocessing": Preprocessing(32).to_metadata(),
        "dataset": {
            "seed": 0,
            "size": [320, 240],
            "counts": {"train": FIT},
            "classes": list(GLASS_TYPES),
            **dataset,
        },
    }
    return save_artifact(path, model.state_dict(), metadata)


def calibrated(path, before: dict, before_metadata: dict) -> tuple[dict, dict, dict]:
    """(tensors, metadata, domain metadata) of ``path`` after a calibration, checking that its
    network tensors are byte for byte those of ``before`` and recorded as such."""
    after, metadata = load_artifact(path)
    network = model_tensors(after)
    assert network.keys() == before.keys()
    assert all(torch.equal(network[name], before[name]) for name in before)
    domain = metadata[METADATA_KEY]
    assert domain["model_weights_sha256"] == before_metadata["weights_sha256"]
    return after, metadata, domain


def test_calibrate_adds_statistics_without_touching_the_weights(tmp_path) -> None:
    assert COMMANDS["ood-calibrate"][0] == "perception_training.ood.calibrate"
    path = tiny_glass_artifact(tmp_path / "glass.safetensors")
    before, before_metadata = load_artifact(path)
    argv = ["--artifact", str(path), "--fit", "50", "--calibration", str(CALIBRATION)]
    assert perception_train(["ood-calibrate", *argv, "--false-alarm-rate", str(RATE)]) == 0

    after, metadata, domain = calibrated(path, before, before_metadata)
    assert (domain["fit_samples"], domain["calibration_samples"]) == (FIT, CALIBRATION)  # --fit capped
    assert domain["calibration"]["kinds"] == [GLASS_CROPS]
    assert domain["calibration"]["split"] == CALIBRATION_SPLIT and domain["false_alarm_rate"] == RATE
    assert "ood-calibrate --artifact" in domain["command"] and domain["threshold"] > 0
    assert domain["dim"] == after["domain.mean"].numel()

    classifier = Classifier.load(path, device="cpu")
    crops = list(held_out_images(read_metadata(path), 0, CALIBRATION_SPLIT, CALIBRATION))
    classifier.predict(crops)
    verdicts = classifier.domain_verdicts()
    assert len(verdicts) == CALIBRATION
    # the crop at the threshold may tip either way once the statistics are stored as float32
    assert sum(not v.in_domain for v in verdicts) <= RATE * CALIBRATION + 1

    assert perception_train(["ood-calibrate", *argv]) == 0  # again: replaced, not added
    again, metadata = load_artifact(path)
    assert again.keys() == after.keys() and metadata[METADATA_KEY]["false_alarm_rate"] == 0.01


def test_trainers_calibrate_only_what_the_synthetic_world_can_draw_again(tmp_path) -> None:
    users = tiny_glass_artifact(tmp_path / "users.safetensors")  # no generator: a user's data set
    other = tiny_glass_artifact(tmp_path / "other.safetensors", generator=GENERATORS[0], classes=["a", "b"])
    synthetic = tiny_glass_artifact(tmp_path / "glass.safetensors", generator=GENERATORS[0])
    untouched = {path: path.read_bytes() for path in (users, other, synthetic)}
    assert calibrate_trained(users, CALIBRATION) is None
    assert calibrate_trained(other, CALIBRATION) is None  # synthetic, but not crops it can redraw
    assert calibrate_trained(synthetic, 0) is None  # the trainer's --ood-calibration 0
    assert all(path.read_bytes() == content for path, content in untouched.items())

    statistics = calibrate_trained(synthetic, CALIBRATION)
    assert statistics is not None and statistics.info["calibration_samples"] == CALIBRATION
    assert read_metadata(synthetic)[METADATA_KEY]["threshold"] == statistics.threshold


def tiny_sign_artifact(path):
    """An untrained x3d_xs over 0.6 s clips of 4 frames at 32 px, 'trained' on two signing videos."""
    torch.manual_seed(0)
    spec = VideoModelSpec("x3d_xs", num_frames=4, crop_size=32, sampling_rate=12)
    classes = [IDLE_CLASS, "왼쪽", "오른쪽"]
    model = build_video_model("x3d_xs", len(classes), dropout=0.0)
    dataset = {"generator": SIGN_GENERATOR, "seed": 0, "videos": 2, "sizes": "64x48,96x72", "max_gap_s": 1.3}
    metadata = {**sign_metadata(spec, classes, ["idle", "left", "right"], 0.6), "dataset": dataset}
    return save_artifact(path, model.state_dict(), metadata)


def test_calibrate_gives_a_sign_model_statistics_of_its_signing_clips(tmp_path) -> None:
    path = tiny_sign_artifact(tmp_path / "sign.safetensors")
    before, before_metadata = load_artifact(path)
    assert perception_train(["ood-calibrate", "--artifact", str(path), "--calibration", "8"]) == 0

    _, metadata, domain = calibrated(path, before, before_metadata)
    # every clip of the two training videos (--fit is 1000), cut as the node cuts a stream
    assert domain["fit_samples"] == len(list(sign_clips(metadata, 0, "train", 1000, 2))) > 2
    assert domain["calibration_samples"] == 8 and domain["calibration"]["kinds"] == [SIGN_CLIPS]
    assert domain["fit"]["size"] == domain["calibration"]["size"] == [[64, 48], [96, 72]]
    assert domain["dim"] == 2 * (24 + 24 + 48 + 96 + 192) + 2048  # stem and stages, head input

    recognizer = SignRecognizer.load(path, device="cpu")
    verdicts = []
    for clip in held_out_images(metadata, 0, CALIBRATION_SPLIT, 8):
        assert clip.shape[0] == 4 and min(clip.shape[1:3]) == 32  # kept as the node keeps frames
        recognizer.predict(clip)
        verdicts.append(recognizer.domain_verdict())
    assert all(v.score >= 0.0 for v in verdicts) and sum(not v.in_domain for v in verdicts) <= 1
    recognizer.predict(np.full((4, 32, 32, 3), 128, np.uint8))  # a grey wall: no signer
    assert not recognizer.domain_verdict().in_domain
