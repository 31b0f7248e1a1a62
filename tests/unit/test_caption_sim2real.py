"""``--sim2real`` for the captioner: the caption writer draws and records the options, the trainer
writes them to a data folder of their own and into the artifact, the grounding calibration draws its
scenes with them, and the domain statistics without them (the plain world is the domain)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from perception.core.artifacts import read_metadata
from perception.core.domain import METADATA_KEY
from perception_training.captioning import grounding
from perception_training.captioning.train import CaptionConfig, _synthetic, main, parse_args
from perception_training.ood import sources
from perception_training.synthetic import SceneWorld, write_caption_dataset
from perception_training.synthetic.cli import main as synthetic_main
from perception_training.synthetic.sim2real import SIM2REAL_OPTIONS

PROG = "perception-train caption"
COUNTS = {"train": 3, "val": 1, "test": 1}
TINY = ["--image-size", "64", "--embed-dim", "16", "--hidden-dim", "32", "--attention-dim", "16"]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _info(root: Path) -> dict:
    return json.loads((root / "synthetic.json").read_text())


def test_writer_records_the_options_and_changes_only_the_pixels(tmp_path: Path) -> None:
    options = ("photos", "lookalikes")  # camera would also move the boxes (and so a spatial caption)
    plain = write_caption_dataset(tmp_path / "plain", 2, COUNTS, (96, 72), ("en",))
    real = write_caption_dataset(tmp_path / "real", 2, COUNTS, (96, 72), ("en",), sim2real=options)
    assert "sim2real" not in _info(plain) and _info(real)["sim2real"] == list(options)
    assert {k: v for k, v in _info(real).items() if k != "sim2real"} == _info(plain)
    for name in ("en/csv/captions.txt", "annotations.jsonl", "splits/train.txt"):
        assert (real / name).read_text() == (plain / name).read_text(), name
    for image in ("train_000000.jpg", "val_000000.jpg"):
        assert not np.array_equal(
            cv2.imread(str(plain / "images" / image)), cv2.imread(str(real / "images" / image))
        )


def test_synthetic_cli_captions_take_the_flag(tmp_path: Path) -> None:
    argv = ["captions", "--train", "1", "--val", "0", "--test", "0", "--size", "64x48", "--languages", "en"]
    synthetic_main([*argv, "--out", str(tmp_path / "all"), "--sim2real"])
    synthetic_main([*argv, "--out", str(tmp_path / "camera"), "--sim2real", "camera"])
    synthetic_main([*argv, "--out", str(tmp_path / "off")])
    assert _info(tmp_path / "all")["sim2real"] == list(SIM2REAL_OPTIONS)
    assert _info(tmp_path / "camera")["sim2real"] == ["camera"]
    assert "sim2real" not in _info(tmp_path / "off")


def test_trainer_flag_is_bare_for_all_and_refused_without_the_synthetic_world(capsys) -> None:
    synthetic = ["--synthetic", "4,1,1"]
    assert parse_args([*synthetic, "--sim2real"], PROG).sim2real == tuple(SIM2REAL_OPTIONS)
    assert parse_args([*synthetic, "--sim2real", "camera", "photos"], PROG).sim2real == ("photos", "camera")
    assert parse_args(synthetic, PROG).sim2real == ()
    for other in (["--captions", "c.txt", "--images", "imgs"], ["--data", "root"]):
        with pytest.raises(SystemExit):
            parse_args([*other, "--sim2real"], PROG)
        assert "--sim2real changes the synthetic world" in capsys.readouterr().err


def test_each_option_set_has_its_own_data_folder_and_a_rerun_reuses_it(tmp_path: Path) -> None:
    plain = CaptionConfig(out=tmp_path, synthetic="2,1,1", synthetic_size="64x48")
    real = CaptionConfig(
        out=tmp_path, synthetic="2,1,1", synthetic_size="64x48", sim2real=("lookalikes", "camera")
    )
    assert _synthetic(plain) == tmp_path / "data" and "sim2real" not in _info(tmp_path / "data")
    assert _synthetic(real) == tmp_path / "data-lookalikes-camera"
    assert _info(tmp_path / "data-lookalikes-camera")["sim2real"] == ["lookalikes", "camera"]
    stamps = {root: (root / "synthetic.json").stat().st_mtime_ns for root in tmp_path.iterdir()}
    assert _synthetic(plain) == tmp_path / "data" and _synthetic(real) == tmp_path / "data-lookalikes-camera"
    assert stamps == {root: (root / "synthetic.json").stat().st_mtime_ns for root in tmp_path.iterdir()}


def _spy(monkeypatch: pytest.MonkeyPatch, module: object, drawn: list[tuple[str, tuple[str, ...]]]) -> None:
    class Spy(SceneWorld):
        def __init__(self, seed: int = 0, sim2real=()) -> None:
            super().__init__(seed, sim2real)
            drawn.append((module.__name__, self.sim2real))

    monkeypatch.setattr(module, "SceneWorld", Spy)


def test_sim2real_run_is_recorded_grounded_with_it_and_gated_without(tmp_path: Path, monkeypatch) -> None:
    drawn: list[tuple[str, tuple[str, ...]]] = []
    _spy(monkeypatch, sources, drawn)
    _spy(monkeypatch, grounding, drawn)
    out = tmp_path / "run"
    argv = ["--synthetic", "6,2,2", "--synthetic-size", "96x72", "--out", str(out), "--epochs", "1"]
    argv += ["--batch", "6", "--min-freq", "1", "--beam", "1", "--no-meteor", "--ood-calibration", "2"]
    assert main([*argv, *TINY, "--sim2real", "lookalikes", "camera"]) == 0
    artifact = out / "captioner.safetensors"
    metadata = read_metadata(artifact)
    assert metadata["dataset"]["sim2real"] == metadata["training"]["sim2real"] == ["lookalikes", "camera"]
    assert metadata["dataset"]["images"] == str(out / "data-lookalikes-camera" / "images")
    assert metadata["command"].endswith("--sim2real lookalikes camera")
    assert metadata[METADATA_KEY]["calibration_samples"] == 2
    assert drawn and set(drawn) == {(sources.__name__, ())}  # fit and calibration: the plain world
    assert metadata[METADATA_KEY]["sim2real"] == "off (training data: lookalikes, camera)"

    drawn.clear()
    words = ",".join([w for w in ("knife", "knives") if w in metadata["word_map"]] or ["table"])
    command = ["--artifact", str(artifact), "--words", words, "--synthetic", "3", "--size", "96x72"]
    assert grounding.main([*command, "--min-precision", "0"]) == 0
    assert set(drawn) == {(grounding.__name__, ("lookalikes", "camera"))}
    (group,) = read_metadata(artifact)["grounding"]
    assert group["calibration"]["scenes"]["sim2real"] == ["lookalikes", "camera"]
    assert grounding.calibration_world({"dataset": {"seed": 0}}, 5).sim2real == ()  # a plain world's


def test_encoder_pretraining_takes_the_flag_and_draws_its_own_data_folder(tmp_path: Path, capsys) -> None:
    from perception_training.captioning.encoder_pretrain import PretrainConfig, _data_yaml

    prog = "perception-train caption-encoder"
    synthetic = ["--synthetic", "2,1", "--synthetic-size", "64x48", "--out", str(tmp_path)]
    assert parse_args([*synthetic, "--sim2real", "camera"], prog, PretrainConfig).sim2real == ("camera",)
    with pytest.raises(SystemExit):
        parse_args(["--data", "data.yaml", "--sim2real"], prog, PretrainConfig)
    assert "--sim2real changes the synthetic world" in capsys.readouterr().err
    plain = _data_yaml(parse_args(synthetic, prog, PretrainConfig))
    real = _data_yaml(parse_args([*synthetic, "--sim2real", "camera"], prog, PretrainConfig))
    assert (plain, real) == (tmp_path / "data" / "data.yaml", tmp_path / "data-camera" / "data.yaml")
    assert "sim2real" not in _info(plain.parent) and _info(real.parent)["sim2real"] == ["camera"]
    before, after = (cv2.imread(str(root.parent / "images/train/train_000000.jpg")) for root in (plain, real))
    assert before is not None and after is not None and not np.array_equal(before, after)
