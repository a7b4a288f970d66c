"""Offline, deterministic style similarity between two sets of short texts.

Used to validate a persona: its generated sample posts (candidates) are scored
against the account's held-out real posts (references), and the combined score
becomes the persona's `confidence_score`. Three views of style, each in [0, 1]:

- char n-grams: TF-IDF over character 2-4-grams inside word boundaries
  (`char_wb`, case kept, sublinear tf), fitted on both sets' posts together; the
  cosine of the two sets' mean vectors. Captures spelling, casing, emoji,
  punctuation habits and favourite words.
- function words: cosine of the two sets' profiles of `FUNCTION_WORDS` relative
  frequencies, square-rooted so that "the" and "a" do not dominate. Captures
  syntax habits largely independent of topic.
- stylometrics: 1 minus the mean bounded difference of measured features
  (`tools.stylometrics.measure_style`), see `_feature_similarity`.

`combined = 0.5 * char_ngram + 0.2 * function_words + 0.3 * stylometric`
(`WEIGHTS`). Character n-grams get the largest weight because they separate
authors best on short texts; function words are noisy on tweets of a few words.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from pydantic import BaseModel

from tools.stylometrics import FUNCTION_WORDS, StyleMetrics, measure_style, words_of

WEIGHTS: dict[str, float] = {"char_ngram": 0.5, "function_words": 0.2, "stylometric": 0.3}

# Features compared by the stylometric component, each with a floor scale: the
# difference of a and b counts as |a - b| / (|a| + |b| + scale), which is 0 for
# equal values, approaches 1 when one side is zero and the other is large
# relative to the scale, and stays small when both values are tiny.
FEATURE_SCALES: dict[str, float] = {
    "mean_chars": 20.0,
    "mean_words": 4.0,
    "emoji_per_post": 0.2,
    "hashtags_per_post": 0.2,
    "mentions_per_post": 0.2,
    "links_per_post": 0.1,
    "lowercase_start_share": 0.1,
    "all_caps_word_share": 0.02,
    "exclamations_per_post": 0.2,
    "questions_per_post": 0.2,
    "ellipses_per_post": 0.1,
    "mean_sentence_words": 3.0,
    "vocabulary_richness": 0.1,
    "function_word_share": 0.05,
    "thread_marker_share": 0.1,
    "line_breaks_per_post": 0.3,
}


class StyleScore(BaseModel):
    """Similarity of candidate texts to reference texts; every field is in [0, 1]."""

    char_ngram: float
    function_words: float
    stylometric: float
    combined: float


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return _clip(float(np.dot(a, b)) / (na * nb))


def char_ngram_similarity(candidates: list[str], references: list[str]) -> float:
    """Cosine of the mean TF-IDF character 2-4-gram vectors of the two sets."""
    # scikit-learn (with SciPy) takes seconds to import: only the first style score pays for it,
    # not every start of the service
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), lowercase=False, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform(candidates + references)
    except ValueError:  # no n-grams at all (e.g. only whitespace)
        return 0.0
    cand = np.asarray(matrix[: len(candidates)].mean(axis=0)).ravel()
    ref = np.asarray(matrix[len(candidates) :].mean(axis=0)).ravel()
    return _cosine(cand, ref)


def function_word_profile(texts: list[str]) -> np.ndarray:
    """Relative frequency of each `FUNCTION_WORDS` entry among all words of `texts`."""
    words = [w.lower() for t in texts for w in words_of(t)]
    if not words:
        return np.zeros(len(FUNCTION_WORDS))
    counts = Counter(words)
    return np.array([counts[w] / len(words) for w in FUNCTION_WORDS], dtype=float)


def function_word_similarity(candidates: list[str], references: list[str]) -> float:
    """Cosine of square-rooted function-word profiles (0 when either has none)."""
    return _cosine(np.sqrt(function_word_profile(candidates)), np.sqrt(function_word_profile(references)))


def _feature_similarity(a: StyleMetrics, b: StyleMetrics) -> float:
    diffs = []
    for name, scale in FEATURE_SCALES.items():
        x, y = float(getattr(a, name)), float(getattr(b, name))
        diffs.append(abs(x - y) / (abs(x) + abs(y) + scale))
    return _clip(1.0 - math.fsum(diffs) / len(diffs))


def stylometric_similarity(candidates: list[str], references: list[str]) -> float:
    """1 - mean bounded difference of `FEATURE_SCALES` features of the two sets."""
    return _feature_similarity(measure_style(candidates), measure_style(references))


def style_similarity(candidates: list[str], references: list[str]) -> StyleScore:
    """Score how closely `candidates` match the style of `references` (see module doc).

    Raises ValueError when either set has no non-blank text: there is nothing
    to compare, and a silent 0 would look like a measured result.
    """
    candidates = [t for t in candidates if t and t.strip()]
    references = [t for t in references if t and t.strip()]
    if not candidates or not references:
        raise ValueError("style_similarity needs at least one non-blank candidate and reference")
    parts = {
        "char_ngram": char_ngram_similarity(candidates, references),
        "function_words": function_word_similarity(candidates, references),
        "stylometric": stylometric_similarity(candidates, references),
    }
    combined = math.fsum(WEIGHTS[k] * v for k, v in parts.items())
    return StyleScore(**parts, combined=_clip(combined))
