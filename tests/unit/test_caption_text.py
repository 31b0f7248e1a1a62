"""captions.txt readers (four layouts, malformed lines), English tokenizer, vocabulary, GloVe."""

from __future__ import annotations

import pytest
import torch

from perception.core.text import Vocabulary, get_tokenizer
from perception_training.captioning.captions_file import CaptionFileError, detect_format, read_captions
from perception_training.captioning.glove import load_glove

CAPTIONS = [("a.jpg", "A red cup, left of a dog."), ("a.jpg", "a cup"), ("b.jpg", "two dogs")]


def _write(tmp_path, layout: str, rows=CAPTIONS):
    path = tmp_path / f"{layout}.txt"
    if layout == "csv":
        lines = ["image,caption", *(f'{image},"{caption}"' for image, caption in rows)]
    elif layout == "tsv":
        lines = [f"{image}\t{caption}" for image, caption in rows]
    else:
        lines = [f"{image}#{index}\t{caption}" for index, (image, caption) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("layout", ["csv", "tsv", "flickr"])
def test_each_layout_is_detected_and_read(tmp_path, layout):
    path = _write(tmp_path, layout)
    assert detect_format(path) == layout
    records = read_captions(path)
    assert [(record.image, record.caption) for record in records] == CAPTIONS


def test_tsv_header_is_skipped(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("image\tcaption\nx.jpg\ta cat\n", encoding="utf-8")
    assert [(r.image, r.caption) for r in read_captions(path)] == [("x.jpg", "a cat")]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("image,caption\na.jpg,a cup\nb.jpg\n", 3),
        ("a.jpg\ta cup\nb.jpg a cup without tab\n", 2),
        ("a.jpg#0\ta cup\nb.jpg\ta cup\n", 2),
        ("a.jpg\ta cup\n\nc.jpg\t\n", 3),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path, text, line):
    path = tmp_path / "captions.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CaptionFileError, match=rf"captions.txt:{line}:"):
        read_captions(path)


def test_plain_caption_lines_are_matched_to_the_images_in_name_order(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in ("b.jpg", "a.jpg", "notes.txt"):
        (images / name).write_bytes(b"")
    path = tmp_path / "captions.txt"
    path.write_text("a red cup\na cup\ntwo dogs\ndogs on grass\n", encoding="utf-8")
    assert detect_format(path) == "plain"
    assert [(r.image, r.caption) for r in read_captions(path, images=images)] == [
        ("a.jpg", "a red cup"), ("a.jpg", "a cup"), ("b.jpg", "two dogs"), ("b.jpg", "dogs on grass"),
    ]  # fmt: skip
    path.write_text("a red cup\na cup\ntwo dogs\n", encoding="utf-8")
    with pytest.raises(CaptionFileError, match="3 caption lines for 2 images"):
        read_captions(path, images=images)
    with pytest.raises(CaptionFileError, match="give the images folder"):
        read_captions(path)


def test_headerless_csv_and_missing_file_are_explained(tmp_path):
    path = tmp_path / "captions.txt"
    path.write_text("a.jpg,a cup\n", encoding="utf-8")
    with pytest.raises(CaptionFileError, match=r"captions\.txt:1: .* looks like CSV without its header"):
        read_captions(path)
    with pytest.raises(CaptionFileError, match="does not exist"):
        read_captions(tmp_path / "missing.txt")


def test_english_tokenizer_lowercases_and_drops_punctuation():
    tokenizer = get_tokenizer("en")
    assert tokenizer.tokenize("A red Cup, left of the dog's bowl. 2 knives!") == [
        "a",
        "red",
        "cup",
        "left",
        "of",
        "the",
        "dog's",
        "bowl",
        "2",
        "knives",
    ]


def test_vocabulary_min_frequency_specials_and_round_trip():
    vocabulary = Vocabulary.build([["a", "red", "cup"], ["a", "cup"], ["a", "dog"]], min_freq=2)
    assert list(vocabulary.word_map)[:4] == ["<pad>", "<start>", "<end>", "<unk>"]
    assert vocabulary.pad == 0
    assert set(vocabulary.word_map) == {"<pad>", "<start>", "<end>", "<unk>", "a", "cup"}
    ids = vocabulary.encode(["a", "red", "cup"])
    assert ids[0] == vocabulary.start and ids[-1] == vocabulary.end and ids[2] == vocabulary.unk
    assert vocabulary.decode(ids) == ["a", "<unk>", "cup"]
    assert vocabulary.decode([vocabulary.start, vocabulary.word_map["a"], vocabulary.end, 5]) == ["a"]
    assert len(vocabulary.encode(["a"] * 100, max_len=10)) == 10
    restored = Vocabulary.from_metadata(vocabulary.to_metadata())
    assert restored.word_map == vocabulary.word_map
    assert vocabulary.to_metadata()["vocab_size"] == len(vocabulary) == 6
    assert restored.rev_word_map[vocabulary.word_map["cup"]] == "cup"


def test_vocabulary_rejects_maps_without_specials():
    with pytest.raises(ValueError, match="special tokens"):
        Vocabulary({"a": 0})


def test_glove_initialisation_and_coverage(tmp_path):
    vocabulary = Vocabulary.build([["a", "red", "cup"], ["a", "blue", "cup"]] * 2)
    glove = tmp_path / "glove.txt"
    glove.write_text("the 0.1 0.2 0.3\ncup 1.0 2.0 3.0\nred -1 -2 -3\n", encoding="utf-8")
    result = load_glove(glove, vocabulary.word_map, dim=3)
    assert result.weights.shape == (len(vocabulary), 3)
    assert torch.equal(result.weights[vocabulary.word_map["cup"]], torch.tensor([1.0, 2.0, 3.0]))
    assert result.found == 2 and result.total == len(vocabulary) - 4  # a, blue are not in the file
    assert result.coverage == pytest.approx(0.5)
    with pytest.raises(ValueError, match="expected 4"):
        load_glove(glove, vocabulary.word_map, dim=4)
