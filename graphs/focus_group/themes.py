"""Themes of a focus group's answers: sentences that say the same thing, grouped by meaning.

Every answer is cut into sentences (of two words or more); the sentences are embedded and grouped by average-linkage
agglomerative clustering on cosine distance (no fixed number of themes: sentences closer than
`distance` join). A theme counts the personas who said something in it, names itself by the
words that set its sentences apart from the rest (tf-idf over the themes) and quotes the
sentence nearest its centre, copied from the answer as written.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphs.focus_group.state import Theme

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+")
MIN_WORDS = 2
# Conversational filler that names no theme, on top of scikit-learn's English stop words.
FILLER_WORDS = frozenset(
    "honest honestly really just like think know lot lots things thing make makes get gets got way right "
    "now year years time times bit pretty sure want wants say says does doing going keeps keep did "
    "try trying feel guess maybe actually definitely probably stuff".split()
)
LABEL_WORDS = 3


@dataclass(frozen=True)
class Sentence:
    persona_id: int
    text: str


def sentences_of(persona_id: int, answer: str) -> list[Sentence]:
    """The answer's sentences of at least two words (the whole answer when none is that long)."""
    parts = [p.strip() for p in _SENTENCE_END.split(answer.strip()) if p.strip()]
    kept = [p for p in parts if len(p.split()) >= MIN_WORDS]
    if not kept and answer.strip():
        kept = [answer.strip()]
    return [Sentence(persona_id, p) for p in kept]


def _words(text: str, ignore: frozenset[str]) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # scikit-learn takes ~1 s to import

    return [
        w
        for w in (m.group(0).lower().strip("'-") for m in _WORD.finditer(text))
        if len(w) > 2 and w not in ENGLISH_STOP_WORDS and w not in FILLER_WORDS and w not in ignore
    ]


def _labels(groups: Sequence[Sequence[Sentence]], ignore: frozenset[str]) -> list[str]:
    counts = [Counter(w for s in group for w in _words(s.text, ignore)) for group in groups]
    spread = Counter(w for c in counts for w in c)
    labels = []
    for count in counts:
        scored = sorted(count, key=lambda w: (-count[w] * math.log(1 + len(groups) / spread[w]), w))
        labels.append(", ".join(scored[:LABEL_WORDS]) or "other")
    return labels


def group_sentences(vectors: np.ndarray, distance: float) -> list[int]:
    """A group number per sentence (one group when there is a single sentence)."""
    if len(vectors) < 2:
        return [0] * len(vectors)
    from sklearn.cluster import AgglomerativeClustering  # scikit-learn takes ~1 s to import: not at start-up

    clustering = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=distance
    )
    return [int(g) for g in clustering.fit_predict(vectors)]


def build_themes(
    sentences: Sequence[Sentence],
    vectors: Sequence[Sequence[float]],
    *,
    distance: float,
    max_themes: int,
    ignore_words: Sequence[str] = (),
) -> list[Theme]:
    """Themes, the most widely shared first (then the larger, then the earlier)."""
    if not sentences:
        return []
    matrix = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = matrix / np.where(norms == 0, 1, norms)
    labels = group_sentences(matrix, distance)
    members: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    groups = list(members.values())
    names = _labels([[sentences[i] for i in g] for g in groups], frozenset(w.lower() for w in ignore_words))
    themes: list[tuple[tuple[int, int, int], Theme]] = []
    for group, name in zip(groups, names, strict=True):
        centre = matrix[group].mean(axis=0)
        nearest = max(group, key=lambda i: (float(matrix[i] @ centre), -i))
        persona_ids = list(dict.fromkeys(sentences[i].persona_id for i in group))
        theme = Theme(theme=name, count=len(persona_ids), persona_ids=persona_ids, quote=sentences[nearest].text)
        themes.append(((-len(persona_ids), -len(group), min(group)), theme))
    return [t for _key, t in sorted(themes, key=lambda kt: kt[0])][:max_themes]
