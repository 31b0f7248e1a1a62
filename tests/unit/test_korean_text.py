"""Korean captions are tokenized, encoded and scored per morpheme (Kiwi), and joined back readably."""

from __future__ import annotations

from perception.core.text import Vocabulary, get_tokenizer
from perception_training.captioning.metrics import CaptionScorer


def test_korean_tokenizer_splits_particles_from_nouns():
    tokenizer = get_tokenizer("ko")
    tokens = tokenizer.tokenize("빨간 컵이 탁자 위에 있습니다.")
    forms = [token.split("/")[0] for token in tokens]
    assert "컵" in forms and "이" in forms  # "컵이" is noun + subject particle
    assert "컵이" not in forms
    assert "." not in forms


def test_korean_detokenize_joins_morphemes_back():
    tokenizer = get_tokenizer("korean")
    text = "빨간 컵이 탁자 위에 있습니다"
    assert tokenizer.detokenize(tokenizer.tokenize(text)) == text


def test_korean_vocabulary_and_scoring_are_per_morpheme():
    tokenizer = get_tokenizer("ko")
    references = [[tokenizer.tokenize("컵이 탁자 위에 있습니다"), tokenizer.tokenize("탁자 위에 컵이 있다")]]
    vocabulary = Vocabulary.build(references[0], min_freq=2)
    assert any(word.startswith("컵/") for word in vocabulary.word_map)
    scorer = CaptionScorer(meteor=False)
    exact = scorer.score(references, [references[0][0]])
    # "컵은" differs from "컵이" only in the particle: per-morpheme scoring still credits the noun.
    near = scorer.score(references, [tokenizer.tokenize("컵은 탁자 위에 있습니다")])
    assert exact["BLEU-1"] > 0.99
    assert 0.5 < near["BLEU-1"] < exact["BLEU-1"]
