"""The index build segments with rjieba (`Tokenizer.tokenize_many`); questions with jieba
(`Tokenizer.tokenize`). Both must give the same tokens, or paragraphs and questions would not
match. (Over all 373k paragraphs of /work/shared/corpora no token differed; see BENCHMARKS.md.)"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from index import tokenize
from index.tokenize import Tokenizer

CORPORA = Path("/work/shared/corpora")


@pytest.fixture(scope="module")
def bulk() -> Tokenizer:
    """A tokenizer of its own (tokenize_many would switch the shared one to rjieba)."""
    return Tokenizer()


def _texts(sample_text: str) -> list[str]:
    texts = [line for line in sample_text.splitlines() if line.strip()]
    if CORPORA.is_dir():
        for path in sorted(CORPORA.glob("*-gwr*/*.txt"))[::20]:
            texts += path.read_text(encoding="utf-8").splitlines()
    return texts


def _fuzz(tok: Tokenizer, n: int) -> list[str]:
    """Random mixes of dictionary words, Latin, digits, punctuation, spaces and rare scripts."""
    rng = random.Random(0)
    words = [w for w, f in list(tok._freq.items())[:200_000] if f]
    odd = [
        *"abcxyz019.,%+-#&_/:;!?()（）、，。：；！？ \t\n\r",
        *("\r\n", "㐀", "䶵", "\u9fd6", "\u9fff", "𠀀", "😀", "ア", "한", "é", "·", "—", "…"),
        *("\u3000", "\xa0", "8.5", "c++", "r&d", "covid-19", "5g", "2024年", "Ｄ建", "國務院"),
    ]
    return [
        "".join(rng.choice(words) if rng.random() < 0.6 else rng.choice(odd) for _ in range(12))
        for _ in range(n)
    ]


def test_bulk_tokens_equal_question_tokens(bulk: Tokenizer, sample_text: str) -> None:
    texts = _texts(sample_text) + _fuzz(bulk, 3000)
    got = bulk.tokenize_many(texts)
    assert bulk._rjieba, "rjieba is a dependency: tokenize_many should use it here"
    assert got == [bulk.tokenize(t) for t in texts]


def test_without_rjieba_jieba_does_it(monkeypatch: pytest.MonkeyPatch, sample_text: str) -> None:
    monkeypatch.setitem(sys.modules, "rjieba", None)  # `import rjieba` fails
    monkeypatch.setattr(tokenize, "BULK_MIN_CHARS", 0)
    tok = Tokenizer()
    texts = [line for line in sample_text.splitlines() if line.strip()]
    assert tok.tokenize_many(texts) == [tok.tokenize(t) for t in texts]
    assert tok._rjieba is False
