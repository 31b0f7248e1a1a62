"""perception_training.sign.evaluate: per-class figures, idle false words, and the command's outputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perception.core.artifacts import save_artifact
from perception.core.sign import IDLE_CLASS, IDLE_GLOSS
from perception.core.video_models import build_video_model, video_spec
from perception_training.sign.artifact import sign_metadata
from perception_training.sign.evaluate import idle_false_word_rate, main, per_class, word_accuracy
from perception_training.synthetic.signing import SIGN_WORDS

CLASSES = [IDLE_CLASS, "아래", "위"]
GLOSSES = [IDLE_GLOSS, "down", "up"]


def test_figures_count_idle_clips_apart_from_words() -> None:
    words = ["위", "위", "아래", IDLE_CLASS, IDLE_CLASS, IDLE_CLASS, IDLE_CLASS]
    predicted = np.array([2, 0, 1, 0, 0, 2, 1])  # one "up" missed as idle, two idle clips as words
    rows = per_class(predicted, words, CLASSES, GLOSSES)
    assert [(r.word, r.clips, r.correct) for r in rows] == [(IDLE_CLASS, 4, 2), ("아래", 1, 1), ("위", 2, 1)]
    assert word_accuracy(predicted, words, CLASSES) == pytest.approx(2 / 3)
    assert idle_false_word_rate(predicted, words, CLASSES) == pytest.approx(0.5)


def test_a_model_without_idle_class_names_every_idle_clip_a_word() -> None:
    words = ["위", IDLE_CLASS, IDLE_CLASS]
    predicted = np.array([1, 0, 1])
    rows = per_class(predicted, words, ["아래", "위"], ["down", "up"])
    assert (rows[-1].word, rows[-1].clips, rows[-1].correct) == (IDLE_CLASS, 2, 0)
    assert idle_false_word_rate(predicted, words, ["아래", "위"]) == 1.0
    assert np.isnan(idle_false_word_rate(predicted[:1], words[:1], CLASSES))


@pytest.mark.slow
def test_main_prints_the_table_and_writes_csv_and_confusion_matrix(
    tmp_path: Path, one_torch_thread: None, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = replace(video_spec("x3d_xs"), num_frames=4, crop_size=64)
    classes = sorted([IDLE_CLASS, *SIGN_WORDS])
    glosses = [{**SIGN_WORDS, IDLE_CLASS: IDLE_GLOSS}[word] for word in classes]  # the plot has no Hangul
    model = build_video_model("x3d_xs", len(classes), dropout=0.0)
    artifact = save_artifact(
        tmp_path / "m.safetensors", model.state_dict(), sign_metadata(spec, classes, glosses, 1.0)
    )
    assert (
        main(["--artifact", str(artifact), "--seed", "5", "--videos", "2", "--output_dir", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert "word accuracy:" in out and "idle false-word rate:" in out
    assert "| class | gloss | clips | correct | accuracy |\n|---|---|---:|---:|---:|\n" in out
    assert (tmp_path / "heldout_confusion_matrix.png").stat().st_size > 0
    lines = (tmp_path / "heldout_per_class.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "class,gloss,clips,correct,accuracy" and len(lines) == 1 + len(classes)
