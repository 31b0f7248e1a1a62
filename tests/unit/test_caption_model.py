"""Captioner model: shapes, greedy and beam decoding, artifact round trip, inference API."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.core.artifacts import ArtifactError, save_artifact
from perception.core.caption_decoding import beam_search, greedy
from perception.core.caption_model import CaptionerConfig, CaptionModel
from perception.core.captioner import Captioner, preprocess
from perception.core.text import Vocabulary
from perception_training.captioning.artifact import save_captioner

SIZE = 64
DARK = np.full((48, 80, 3), 30, np.uint8)
BRIGHT = np.full((48, 80, 3), 220, np.uint8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return Vocabulary.build([["a", "red", "cup"], ["a", "blue", "cup"]] * 2)


@pytest.fixture(scope="module")
def model(vocabulary) -> CaptionModel:
    torch.manual_seed(0)
    return CaptionModel(
        CaptionerConfig(len(vocabulary), embed_dim=16, hidden_dim=32, attention_dim=16)
    ).eval()


def test_forward_shapes(model, vocabulary):
    images = torch.randn(3, 3, SIZE, SIZE)
    assert model.encoder(images).shape == (3, 4, 576)  # 64 px -> 2x2 grid of MobileNetV3-Small features
    captions = torch.tensor([vocabulary.encode(["a", "red", "cup"])] * 3)
    assert model(images, captions).shape == (3, captions.size(1) - 1, len(vocabulary))


def test_encoder_freeze_toggles_gradients(model):
    model.set_encoder_trainable(False)
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())
    model.set_encoder_trainable(True)
    assert all(p.requires_grad for p in model.encoder.parameters())


def _overfit(vocabulary: Vocabulary) -> tuple[CaptionModel, torch.Tensor]:
    """A tiny model taught one caption per image: decoding must reproduce them."""
    torch.manual_seed(0)
    model = CaptionModel(
        CaptionerConfig(len(vocabulary), embed_dim=16, hidden_dim=32, attention_dim=16, dropout=0)
    )
    images = preprocess([DARK, BRIGHT], SIZE)
    captions = torch.tensor([vocabulary.encode(["a", "red", "cup"]), vocabulary.encode(["a", "blue", "cup"])])
    model.set_encoder_trainable(False)
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-2)
    model.train()  # frozen encoder weights, but BatchNorm statistics adapt to these images
    for layer in model.encoder.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            layer.momentum = None  # exact running averages after few steps (torchvision uses 0.01)
    for _ in range(40):
        logits = model(images, captions)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), captions[:, 1:].reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), images


def test_greedy_and_beam_decode_the_learned_captions(vocabulary):
    model, images = _overfit(vocabulary)
    ids, scores = greedy(model, images, vocabulary.start, vocabulary.end, max_len=10)
    assert [vocabulary.decode(row) for row in ids] == [["a", "red", "cup"], ["a", "blue", "cup"]]
    assert all(0.5 < score <= 1.0 for score in scores)
    for index, expected in enumerate(["a red cup", "a blue cup"]):
        beam_ids, beam_score = beam_search(
            model, images[index : index + 1], vocabulary.start, vocabulary.end, 10, 3
        )
        assert vocabulary.decode(beam_ids) == expected.split()
        assert 0.5 < beam_score <= 1.0
        assert model.generate(images[index], vocabulary.word_map, vocabulary.rev_word_map, 10) == expected
        assert (
            model.generate(images[index], vocabulary.word_map, vocabulary.rev_word_map, 10, beam_size=3)
            == expected
        )


def test_decoding_stops_at_max_len(model, vocabulary):
    ids, _ = greedy(model, torch.randn(2, 3, SIZE, SIZE), vocabulary.start, vocabulary.end, max_len=4)
    assert all(len(row) <= 3 for row in ids)


def test_artifact_round_trip_and_captioner_api(tmp_path, vocabulary):
    model, _ = _overfit(vocabulary)
    path = save_captioner(
        tmp_path / "cap.safetensors",
        model,
        vocabulary,
        tokenizer="english",
        language="en",
        image_size=SIZE,
        max_len=10,
        extra={"metrics": {"BLEU-4": 0.1}},
    )
    captioner = Captioner.load(path, device="cpu")
    assert captioner.metadata["vocab_size"] == len(vocabulary)
    assert captioner.metadata["word_map"] == vocabulary.word_map
    assert captioner.metadata["rev_word_map"]["4"] == vocabulary.rev_word_map[4]
    text, score = captioner.caption(DARK)
    assert text == "a red cup" and 0.0 < score <= 1.0
    batch = captioner.caption_batch([BRIGHT, DARK])
    assert [caption for caption, _ in batch] == ["a blue cup", "a red cup"]
    captioner.beam_size = 3
    assert captioner.caption(BRIGHT)[0] == "a blue cup"
    assert captioner.caption_batch([]) == []


def _saved(path, model, vocabulary, **extra):
    return save_captioner(
        path, model, vocabulary, tokenizer="english", language="en", image_size=SIZE, max_len=10, extra=extra
    )


def test_grounded_words_are_only_said_where_the_concept_head_agrees(tmp_path, vocabulary):
    model, _ = _overfit(vocabulary)
    red = vocabulary.word_map["red"]
    with torch.no_grad():
        model.concepts.weight.zero_()
        model.concepts.bias.fill_(5.0)
        model.concepts.bias[red] = -5.0  # the concept head is sure no image shows anything red
    grounding = [{"words": ["red"], "threshold": 0.5}]
    path = _saved(tmp_path / "cap.safetensors", model, vocabulary, grounding=grounding)
    grounded = Captioner.load(path, device="cpu")
    texts = [text for text, _ in grounded.caption_batch([DARK, BRIGHT])]
    assert "red" not in texts[0].split() and texts[1] == "a blue cup"
    grounded.beam_size = 3
    assert "red" not in grounded.caption(DARK)[0].split()
    assert Captioner.load(path, device="cpu", grounded=False).caption(DARK)[0] == "a red cup"

    with torch.no_grad():
        model.concepts.bias[red] = 5.0  # now it agrees: the sentence is unchanged
    agreeing = _saved(tmp_path / "agree.safetensors", model, vocabulary, grounding=grounding)
    assert Captioner.load(agreeing, device="cpu").caption(DARK)[0] == "a red cup"

    unknown = _saved(
        tmp_path / "unknown.safetensors",
        model,
        vocabulary,
        grounding=[{"words": ["knife"], "threshold": 0.5}],
    )
    with pytest.raises(
        ArtifactError, match=r"grounded words \['knife'\] are not in the captioner's vocabulary"
    ):
        Captioner.load(unknown, device="cpu")


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (np.zeros((10, 10), np.uint8), "HxWx3"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
    ],
)
def test_bad_frames_raise_clear_errors(frame, problem):
    with pytest.raises(ValueError, match=problem):
        preprocess([frame], SIZE)


def test_wrong_or_corrupt_artifact_is_rejected(tmp_path):
    wrong = save_artifact(
        tmp_path / "det.safetensors", {"w": torch.zeros(1)}, {"kind": "detector", "architecture": "x"}
    )
    with pytest.raises(ArtifactError, match="expected 'captioner'"):
        Captioner.load(wrong, device="cpu")
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"not a model")
    with pytest.raises(ArtifactError):
        Captioner.load(corrupt, device="cpu")
