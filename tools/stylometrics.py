"""Measured writing-style features of a set of short posts (no model, no database).

`measure_style` counts surface features; `describe_style` turns them into trait
strings, but only where a number clears a documented threshold (`TRAIT_RULES`),
so every trait a persona reports can be traced back to a measurement.

Tokenisation conventions used throughout:
- *tokens*: whitespace-separated pieces of the raw text (what a reader counts as
  "words" in a post, links and @mentions included); used for lengths.
- *words*: alphabetic words (apostrophes allowed) found after removing links,
  @mentions, #hashtags and `code spans`; used for casing, vocabulary and
  function-word statistics.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, Field

# ~150 English function words (articles, pronouns, prepositions, conjunctions,
# auxiliaries, common adverbs). Their relative frequencies are a classic
# authorship signal that is largely independent of topic.
FUNCTION_WORDS: tuple[str, ...] = (
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "almost",
    "also",
    "although",
    "always",
    "am",
    "among",
    "an",
    "and",
    "another",
    "any",
    "are",
    "around",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "behind",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "either",
    "enough",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "however",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "least",
    "less",
    "many",
    "may",
    "me",
    "might",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "neither",
    "never",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "often",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "perhaps",
    "quite",
    "rather",
    "same",
    "shall",
    "she",
    "should",
    "since",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "therefore",
    "these",
    "they",
    "this",
    "those",
    "though",
    "through",
    "thus",
    "to",
    "too",
    "under",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
)
_FUNCTION_WORD_SET = frozenset(FUNCTION_WORDS)

_LINK = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w.@])@\w{1,15}")
_HASHTAG = re.compile(r"(?<![\w&#])#[^\W\d]\w*")
_CODE = re.compile(r"`[^`\n]*`")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
# A sentence ends at . ! ? or … (runs allowed) followed by whitespace or the end,
# or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_ELLIPSIS = re.compile(r"\.{3,}|…")
_THREAD_NUMBER = re.compile(r"(?<![\w/])\d{1,2}/(?:\d{1,2})?(?![\w/])")
_THREAD_EMOJI = "\U0001f9f5"  # 🧵

# One emoji "cluster": a pictographic base, optional variation selector / skin
# tone, optionally joined by ZWJ to further pictographs; or a flag (two regional
# indicators). Counted as one emoji each.
_PICTO = (
    "[\U0001f300-\U0001f5ff\U0001f600-\U0001f64f\U0001f680-\U0001f6ff"
    "\U0001f900-\U0001f9ff\U0001fa70-\U0001faff\u2600-\u27bf\u2b50\u2b55"
    "\u3030\u303d\u3297\u3299\U0001f004\U0001f0cf"
    "\U0001f170-\U0001f251]"
)
_MODIFIER = "[\ufe0f\U0001f3fb-\U0001f3ff]*"
_EMOJI = re.compile(f"[\U0001f1e6-\U0001f1ff]{{2}}|{_PICTO}{_MODIFIER}(?:\u200d{_PICTO}{_MODIFIER})*")

VOCABULARY_SAMPLE = 42
"""Sample size of HD-D, the length- and order-independent vocabulary richness."""


class StyleMetrics(BaseModel):
    """Surface style measurements over a set of posts.

    `*_per_post` values are mean counts per post; `*_share` values are fractions
    in [0, 1] (of posts, or of words where stated).
    """

    post_count: int = 0
    mean_chars: float = 0.0
    median_chars: float = 0.0
    mean_words: float = Field(0.0, description="mean whitespace tokens per post")
    median_words: float = 0.0
    emoji_per_post: float = 0.0
    emoji_post_share: float = Field(0.0, description="share of posts with any emoji")
    hashtags_per_post: float = 0.0
    mentions_per_post: float = 0.0
    links_per_post: float = 0.0
    lowercase_start_share: float = Field(
        0.0,
        description="share of posts whose first word starts lowercase "
        "(posts opening with a mention, hashtag or link are not counted)",
    )
    all_caps_word_share: float = Field(0.0, description="share of words with 2+ letters written entirely in capitals")
    exclamations_per_post: float = 0.0
    questions_per_post: float = 0.0
    ellipses_per_post: float = 0.0
    mean_sentence_words: float = Field(0.0, description="mean tokens per sentence")
    type_token_ratio: float = Field(0.0, description="distinct words / words, all posts")
    vocabulary_richness: float = Field(
        0.0, description=f"HD-D: expected type-token ratio of {VOCABULARY_SAMPLE} random words"
    )
    function_word_share: float = Field(0.0, description="share of words that are function words")
    thread_marker_share: float = Field(0.0, description="share of posts with 🧵 or n/ numbering")
    line_breaks_per_post: float = 0.0
    top_words: list[str] = Field(default_factory=list)


def words_of(text: str) -> list[str]:
    """Alphabetic words of a post, after removing links, mentions, hashtags and code."""
    for pattern in (_LINK, _CODE, _MENTION, _HASHTAG):
        text = pattern.sub(" ", text)
    return _WORD.findall(text)


def count_emoji(text: str) -> int:
    return len(_EMOJI.findall(text))


def _starts_lowercase(text: str) -> bool | None:
    """Whether the post's first word starts lowercase; None when there is no
    word or the post opens with a mention, hashtag or link (reply-style openings
    say nothing about casing habits)."""
    head = text.lstrip()
    if not head or _LINK.match(head) or _MENTION.match(head) or _HASHTAG.match(head):
        return None
    words = words_of(head)
    return words[0][0].islower() if words else None


def _sentences(text: str) -> list[str]:
    parts = (p.strip() for p in _SENTENCE_END.split(_LINK.sub(" ", text)))
    return [p for p in parts if p.split()]


def _hdd(words: list[str], sample: int = VOCABULARY_SAMPLE) -> float:
    """HD-D: expected type-token ratio of a random `sample`-word draw (no replacement).

    Unlike raw TTR it does not fall as more posts are added, and unlike a
    moving window it does not depend on post order. Plain TTR below `sample` words.
    """
    n = len(words)
    if n == 0:
        return 0.0
    counts = Counter(words)
    if n <= sample:
        return len(counts) / n
    log_all = math.lgamma(n + 1) - math.lgamma(sample + 1) - math.lgamma(n - sample + 1)
    expected = 0.0
    for f in sorted(counts.values()):
        if n - f < sample:  # a draw of `sample` words must contain this type
            expected += 1.0
            continue
        log_absent = (math.lgamma(n - f + 1) - math.lgamma(sample + 1) - math.lgamma(n - f - sample + 1)) - log_all
        expected += 1.0 - math.exp(log_absent)
    return expected / sample


def _top_words(word_lists: list[list[str]], n: int = 10) -> list[str]:
    """Most used content words (not function words, 3+ letters, in 2+ posts).

    Ranked by number of posts using the word, then total uses, then
    alphabetically, so the result is deterministic.
    """
    doc_freq: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ws in word_lists:
        lowered = [w.lower() for w in ws]
        content = [w for w in lowered if len(w) >= 3 and w not in _FUNCTION_WORD_SET]
        total.update(content)
        doc_freq.update(set(content))
    ranked = sorted(
        (w for w, df in doc_freq.items() if df >= 2),
        key=lambda w: (-doc_freq[w], -total[w], w),
    )
    return ranked[:n]


def _mean(values: list[float]) -> float:
    return float(statistics.fmean(values)) if values else 0.0


def measure_style(posts: list[str]) -> StyleMetrics:
    """Measure style features over `posts`; empty input gives all-zero metrics."""
    posts = [p for p in posts if p and p.strip()]
    if not posts:
        return StyleMetrics()
    n = len(posts)
    chars = [float(len(p)) for p in posts]
    tokens = [float(len(p.split())) for p in posts]
    word_lists = [words_of(p) for p in posts]
    all_words = [w for ws in word_lists for w in ws]
    lowered = [w.lower() for w in all_words]

    starts = [s for s in map(_starts_lowercase, posts) if s is not None]
    long_words = [w for w in all_words if len(w) >= 2]
    caps = sum(1 for w in long_words if w.isupper())
    sentence_lengths = [float(len(s.split())) for p in posts for s in _sentences(p)]
    emoji_counts = [count_emoji(p) for p in posts]

    def per_post(fn: Callable[[str], int]) -> float:
        return sum(fn(p) for p in posts) / n

    return StyleMetrics(
        post_count=n,
        mean_chars=_mean(chars),
        median_chars=float(statistics.median(chars)),
        mean_words=_mean(tokens),
        median_words=float(statistics.median(tokens)),
        emoji_per_post=sum(emoji_counts) / n,
        emoji_post_share=sum(1 for c in emoji_counts if c) / n,
        hashtags_per_post=per_post(lambda p: len(_HASHTAG.findall(p))),
        mentions_per_post=per_post(lambda p: len(_MENTION.findall(p))),
        links_per_post=per_post(lambda p: len(_LINK.findall(p))),
        lowercase_start_share=sum(starts) / len(starts) if starts else 0.0,
        all_caps_word_share=caps / len(long_words) if long_words else 0.0,
        exclamations_per_post=per_post(lambda p: p.count("!")),
        questions_per_post=per_post(lambda p: p.count("?")),
        ellipses_per_post=per_post(lambda p: len(_ELLIPSIS.findall(p))),
        mean_sentence_words=_mean(sentence_lengths),
        type_token_ratio=len(set(lowered)) / len(lowered) if lowered else 0.0,
        vocabulary_richness=_hdd(lowered),
        function_word_share=(sum(1 for w in lowered if w in _FUNCTION_WORD_SET) / len(lowered) if lowered else 0.0),
        thread_marker_share=sum(1 for p in posts if _THREAD_EMOJI in p or _THREAD_NUMBER.search(p)) / n,
        line_breaks_per_post=per_post(lambda p: p.count("\n")),
        top_words=_top_words(word_lists),
    )


@dataclass(frozen=True)
class TraitRule:
    """A trait is reported when `test(metrics)` holds; `why` documents the threshold."""

    trait: str
    why: str
    test: Callable[[StyleMetrics], bool]


MIN_POSTS_FOR_TRAITS = 3
"""Fewer posts than this give no traits: rates over one or two posts are anecdotes."""

# Thresholds are deliberately coarse: a trait should be obvious to a reader of
# the account, not a statistical nuance. Mutually exclusive rules are ordered.
TRAIT_RULES: tuple[TraitRule, ...] = (
    TraitRule("uses lowercase for emphasis", "lowercase_start_share >= 0.6", lambda m: m.lowercase_start_share >= 0.6),
    TraitRule(
        "consistently capitalises sentences", "lowercase_start_share <= 0.05", lambda m: m.lowercase_start_share <= 0.05
    ),
    TraitRule("frequent emoji usage", "emoji_per_post >= 1.0", lambda m: m.emoji_per_post >= 1.0),
    TraitRule("occasional emoji", "0.2 <= emoji_per_post < 1.0", lambda m: 0.2 <= m.emoji_per_post < 1.0),
    TraitRule("never uses emoji", "emoji_post_share == 0", lambda m: m.emoji_post_share == 0.0),
    TraitRule("heavy hashtag usage", "hashtags_per_post >= 1.0", lambda m: m.hashtags_per_post >= 1.0),
    TraitRule("uses hashtags", "0.3 <= hashtags_per_post < 1.0", lambda m: 0.3 <= m.hashtags_per_post < 1.0),
    TraitRule("frequently mentions other accounts", "mentions_per_post >= 0.5", lambda m: m.mentions_per_post >= 0.5),
    TraitRule("often shares links", "links_per_post >= 0.3", lambda m: m.links_per_post >= 0.3),
    TraitRule("uses ALL CAPS for emphasis", "all_caps_word_share >= 0.08", lambda m: m.all_caps_word_share >= 0.08),
    TraitRule(
        "exclamation-heavy, high-energy tone", "exclamations_per_post >= 1.0", lambda m: m.exclamations_per_post >= 1.0
    ),
    TraitRule("often asks questions", "questions_per_post >= 0.4", lambda m: m.questions_per_post >= 0.4),
    TraitRule("trails off with ellipses", "ellipses_per_post >= 0.3", lambda m: m.ellipses_per_post >= 0.3),
    TraitRule("long, complex sentences", "mean_sentence_words >= 20", lambda m: m.mean_sentence_words >= 20),
    TraitRule("short, punchy sentences", "mean_sentence_words <= 8", lambda m: 0 < m.mean_sentence_words <= 8),
    TraitRule("long-form posts", "mean_chars >= 200", lambda m: m.mean_chars >= 200),
    TraitRule("brief posts", "mean_chars <= 80", lambda m: 0 < m.mean_chars <= 80),
    TraitRule(
        "writes threads (🧵, 1/ numbering)", "thread_marker_share >= 0.2", lambda m: m.thread_marker_share >= 0.2
    ),
    TraitRule(
        "uses line breaks to structure posts", "line_breaks_per_post >= 1.5", lambda m: m.line_breaks_per_post >= 1.5
    ),
    TraitRule(
        "varied vocabulary",
        f"vocabulary_richness (HD-D, {VOCABULARY_SAMPLE} words) >= 0.85",
        lambda m: m.vocabulary_richness >= 0.85,
    ),
    TraitRule(
        "repetitive vocabulary",
        f"vocabulary_richness (HD-D, {VOCABULARY_SAMPLE} words) <= 0.6",
        lambda m: 0 < m.vocabulary_richness <= 0.6,
    ),
)


def describe_style(metrics: StyleMetrics) -> list[str]:
    """Human-readable traits supported by `metrics`, in `TRAIT_RULES` order."""
    if metrics.post_count < MIN_POSTS_FOR_TRAITS:
        return []
    return [rule.trait for rule in TRAIT_RULES if rule.test(metrics)]
