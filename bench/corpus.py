"""A synthetic question bank with a realistic word distribution, for search benchmarks.

Words follow Zipf's law over a vocabulary of generated Korean and English words (as in real
text, a few words are very common and most are rare), Korean words carry particles, and
stems use the fixed phrases of Korean exam questions ("다음 중 … 옳은 것은?"), so that
common-word searches are measured too.
"""

from __future__ import annotations

import csv
import io
import itertools
import random

SYLLABLES = [chr(code) for code in range(0xAC00, 0xD7A4, 97)]  # a spread of Hangul syllables
PARTICLES = ("", "", "", "의", "에", "을", "를", "이", "가", "은", "는", "에서", "으로")
TEMPLATES = ("다음 중 {} 옳은 것은?", "다음 중 {} 옳지 않은 것은?", "{} 설명으로 옳은 것은?", "{}")


def vocabulary(rng: random.Random, korean: int = 4000, english: int = 1500) -> list[str]:
    words: set[str] = set()
    while len(words) < korean:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 4)))))
    latin = set()
    while len(latin) < english:
        latin.add("".join(rng.choice("abcdefghijklmnoprstuvw") for _ in range(rng.randint(4, 9))))
    vocab = list(words) + list(latin)
    rng.shuffle(vocab)
    return vocab


class Corpus:
    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.vocab = vocabulary(self.rng)
        weights = [1 / (rank + 1) ** 1.05 for rank in range(len(self.vocab))]
        self.cum = list(itertools.accumulate(weights))

    def words(self, n: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=n)

    def text(self, n: int) -> str:
        out = []
        for word in self.words(n):
            hangul = "\uac00" <= word[0] <= "\ud7a3"
            out.append(word + (self.rng.choice(PARTICLES) if hangul else ""))
        return " ".join(out)

    def stem(self) -> str:
        return self.rng.choice(TEMPLATES).format(self.text(self.rng.randint(6, 16)))

    def query_words(self) -> dict[str, list[str]]:
        """Query words by how common they are: ranks ~10, ~100, ~1000 in the vocabulary."""
        return {
            "common": self.vocab[5:15],
            "medium": self.vocab[90:110],
            "rare": self.vocab[900:920],
        }


def make_csv(rows: int, seed: int = 7) -> tuple[bytes, Corpus]:
    corpus = Corpus(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["code", "subject", "topic", "question", "choice_a", "choice_b", "choice_c",
         "choice_d", "answer", "explanation", "tags"]
    )  # fmt: skip
    for n in range(rows):
        subject = f"S{n % 5 + 1}"
        writer.writerow(
            [f"Q{n:06d}", subject, f"{subject}-{n % 40:02d}", corpus.stem(),
             corpus.text(4), corpus.text(4), corpus.text(4), corpus.text(4),
             "ABCD"[n % 4], corpus.text(25), f"tag{n % 50}"]
        )  # fmt: skip
    return out.getvalue().encode(), corpus
