"""Stylometrics, style similarity, engagement and the bundled ghostwriter sample (no database)."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from evals.ghostwriter_style_dataset import (
    DATASET_PATH,
    HOLDOUT_FRACTION,
    HOLDOUT_SEED,
    render_dataset,
)
from tests.support.paths import ROOT
from tools.engagement import engagement_score, pick_exemplars, post_engagement, split_holdout
from tools.style_similarity import WEIGHTS, style_similarity
from tools.stylometrics import (
    FUNCTION_WORDS,
    StyleMetrics,
    count_emoji,
    describe_style,
    measure_style,
)
from use_cases.ghostwriter.sample_accounts import (
    SAMPLE_PATH,
    load_sample_accounts,
    render_sample,
)

EXEMPLARS = 40


# --- stylometrics -----------------------------------------------------------

HAND_POSTS = [
    "gm frens 🚀🚀 check https://example.com/x #crypto @alice",
    "This is GREAT news! Really great!!",
    "is it over... or not?",
]


def test_measure_style_exact_values_on_hand_written_posts() -> None:
    m = measure_style(HAND_POSTS)
    assert m.post_count == 3
    assert m.mean_chars == pytest.approx((54 + 34 + 21) / 3)
    assert m.median_chars == 34
    assert m.mean_words == 6 and m.median_words == 6  # 7, 6, 5 tokens
    assert m.emoji_per_post == pytest.approx(2 / 3)
    assert m.emoji_post_share == pytest.approx(1 / 3)
    assert m.hashtags_per_post == pytest.approx(1 / 3)
    assert m.mentions_per_post == pytest.approx(1 / 3)
    assert m.links_per_post == pytest.approx(1 / 3)
    assert m.lowercase_start_share == pytest.approx(2 / 3)
    assert m.all_caps_word_share == pytest.approx(1 / 14)  # GREAT of 14 words
    assert m.exclamations_per_post == pytest.approx(1.0)
    assert m.questions_per_post == pytest.approx(1 / 3)
    assert m.ellipses_per_post == pytest.approx(1 / 3)
    # sentences: 6 | 4, 2 | 3, 2 tokens (links removed)
    assert m.mean_sentence_words == pytest.approx(17 / 5)
    assert m.type_token_ratio == pytest.approx(12 / 14)
    assert m.vocabulary_richness == pytest.approx(12 / 14)  # fewer words than the window
    assert m.function_word_share == pytest.approx(7 / 14)
    assert m.thread_marker_share == 0
    assert m.line_breaks_per_post == 0
    assert m.top_words == []  # no content word is used in two posts


def test_thread_markers_line_breaks_and_top_words() -> None:
    m = measure_style(
        [
            "1/ Big lessons about the market 🧵\nline two\nline three",
            "3/10 the market is green",
            "due 1/2/2025, green candles on the market",
            "@bob market open",
        ]
    )
    assert m.thread_marker_share == pytest.approx(2 / 4)  # a date is not a marker
    assert m.line_breaks_per_post == pytest.approx(2 / 4)
    assert m.top_words[:2] == ["market", "green"]
    # the mention-led post is not counted for casing: 2 lowercase of 3
    assert m.lowercase_start_share == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("👩\u200d💻 coding", 1), ("🇫🇷🇩🇪", 2), ("👍🏽👍", 2), ("→ next", 0), ("plain :)", 0), ("❤️🔥", 2)],
)
def test_emoji_clusters_count_once(text: str, expected: int) -> None:
    assert count_emoji(text) == expected


def test_empty_input_gives_zero_metrics_and_no_traits() -> None:
    assert measure_style([]) == StyleMetrics()
    assert measure_style(["", "   "]).post_count == 0
    assert describe_style(measure_style([])) == []


def test_describe_style_only_reports_supported_traits() -> None:
    casual = measure_style(
        [
            "gm frens 🚀🔥 feeling good",
            "lol this chart 😭😭",
            "ok one more coffee ☕ then bed 💤",
        ]
    )
    traits = describe_style(casual)
    assert "uses lowercase for emphasis" in traits
    assert "frequent emoji usage" in traits
    for absent in (
        "uses ALL CAPS for emphasis",
        "heavy hashtag usage",
        "never uses emoji",
        "often shares links",
        "long-form posts",
        "consistently capitalises sentences",
    ):
        assert absent not in traits

    formal = measure_style(
        [
            "The committee published its findings on Tuesday.",
            "Several questions remain open, however.",
            "We will publish a detailed response next week.",
        ]
    )
    traits = describe_style(formal)
    assert "never uses emoji" in traits and "consistently capitalises sentences" in traits
    assert "frequent emoji usage" not in traits and "uses lowercase for emphasis" not in traits


def test_describe_style_thresholds_and_minimum_posts() -> None:
    base = StyleMetrics(
        post_count=10,
        emoji_post_share=0.5,
        lowercase_start_share=0.3,
        mean_chars=120,
        mean_sentence_words=12,
        vocabulary_richness=0.75,
    )
    assert describe_style(base) == []
    assert "frequent emoji usage" in describe_style(base.model_copy(update={"emoji_per_post": 1.0}))
    below = describe_style(base.model_copy(update={"emoji_per_post": 0.99}))
    assert "occasional emoji" in below and "frequent emoji usage" not in below
    assert "uses ALL CAPS for emphasis" in describe_style(base.model_copy(update={"all_caps_word_share": 0.08}))
    assert describe_style(base.model_copy(update={"all_caps_word_share": 0.079})) == []
    too_few = base.model_copy(update={"post_count": 2, "emoji_per_post": 3.0})
    assert describe_style(too_few) == []


def test_sample_accounts_show_their_intended_traits() -> None:
    expected = {
        "moonbag_mia": {"uses lowercase for emphasis", "frequent emoji usage"},
        "policyledger": {
            "never uses emoji",
            "long, complex sentences",
            "long-form posts",
            "consistently capitalises sentences",
        },
        "maxhypehq": {"heavy hashtag usage", "exclamation-heavy, high-energy tone"},
        "kfoldr": {"often shares links", "never uses emoji", "brief posts"},
        "risewithjordan": {"writes threads (🧵, 1/ numbering)", "uses line breaks to structure posts"},
        "section112rick": {"frequently mentions other accounts", "uses ALL CAPS for emphasis"},
    }
    for account in load_sample_accounts():
        traits = set(describe_style(measure_style([p["text"] for p in account["posts"]])))
        assert expected[account["handle"]] <= traits, (account["handle"], traits)
        if account["handle"] != "moonbag_mia":
            assert "frequent emoji usage" not in traits, account["handle"]


# --- style similarity -------------------------------------------------------


def _split_texts() -> dict[str, tuple[list[str], list[str]]]:
    """handle -> (held-out texts, engagement-weighted exemplar texts from the rest)."""
    out = {}
    for account in load_sample_accounts():
        train, heldout = split_holdout(account["posts"], HOLDOUT_FRACTION, HOLDOUT_SEED)
        exemplars = pick_exemplars(train, EXEMPLARS, seed=HOLDOUT_SEED)
        out[account["handle"]] = ([p["text"] for p in heldout], [p["text"] for p in exemplars])
    return out


def test_function_word_list_is_fixed_and_unique() -> None:
    assert 140 <= len(FUNCTION_WORDS) <= 170
    assert len(set(FUNCTION_WORDS)) == len(FUNCTION_WORDS)
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_own_account_scores_clearly_higher_than_every_other_account() -> None:
    texts = _split_texts()
    lines, failures = [], []
    for handle, (heldout, exemplars) in texts.items():
        own = style_similarity(heldout, exemplars).combined
        # also with only five candidates, as when a few generated samples are scored
        own_few = style_similarity(heldout[:5], exemplars).combined
        others = {o: style_similarity(heldout, ex).combined for o, (_, ex) in texts.items() if o != handle}
        others_few = {o: style_similarity(heldout[:5], ex).combined for o, (_, ex) in texts.items() if o != handle}
        closest = max(others, key=others.__getitem__)
        margin = own - others[closest]
        margin_few = own_few - max(others_few.values())
        lines.append(
            f"{handle:15s} own={own:.3f} closest other={others[closest]:.3f} ({closest}) "
            f"margin={margin:.3f} | 5 candidates margin={margin_few:.3f}"
        )
        if margin <= 0.1 or margin_few <= 0.1:
            failures.append(handle)
    print("\n" + "\n".join(lines))
    assert not failures, "\n".join(lines)


def test_style_similarity_is_deterministic_bounded_and_order_free() -> None:
    heldout, exemplars = _split_texts()["kfoldr"]
    first = style_similarity(heldout, exemplars)
    assert style_similarity(heldout, exemplars) == first
    shuffled = style_similarity(list(reversed(heldout)), list(reversed(exemplars)))
    for field, value in first.model_dump().items():
        assert 0.0 <= value <= 1.0
        assert getattr(shuffled, field) == pytest.approx(value, abs=1e-12)
    expected = sum(WEIGHTS[k] * getattr(first, k) for k in WEIGHTS)
    assert first.combined == pytest.approx(expected)
    assert style_similarity(exemplars, exemplars).combined == pytest.approx(1.0)


def test_style_similarity_is_the_same_in_a_fresh_process_with_another_hash_seed() -> None:
    code = (
        "import json\n"
        "from tests.tools.test_stylometrics import _split_texts\n"
        "from tools.style_similarity import style_similarity\n"
        "h, e = _split_texts()['moonbag_mia']\n"
        "print(json.dumps(style_similarity(h, e).model_dump()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    )
    heldout, exemplars = _split_texts()["moonbag_mia"]
    assert json.loads(result.stdout) == style_similarity(heldout, exemplars).model_dump()


def test_style_similarity_rejects_empty_sets() -> None:
    with pytest.raises(ValueError):
        style_similarity([], ["a post"])
    with pytest.raises(ValueError):
        style_similarity(["a post"], ["  "])


# --- engagement ---------------------------------------------------------------


def test_engagement_formula() -> None:
    assert engagement_score(0, 0, 0, 0) == 0.0
    assert engagement_score(10, 5, 2, 1000) == pytest.approx(math.log(1 + 10 + 10 + 6 + 10))
    assert engagement_score(100, 0, 0, 0) == pytest.approx(math.log(101))
    assert engagement_score(0, 0, 1, 0) > engagement_score(0, 1, 0, 0) > engagement_score(1, 0, 0, 0)
    with pytest.raises(ValueError):
        engagement_score(-1, 0, 0, 0)


def test_post_engagement_reads_mappings_and_objects() -> None:
    expected = engagement_score(3, 2, 1, 500)
    assert post_engagement({"likes": 3, "reposts": 2, "replies": 1, "views": 500}) == expected
    assert post_engagement(SimpleNamespace(likes=3, reposts=2, replies=1, views=500)) == expected
    assert post_engagement({"likes": 5, "views": None}) == engagement_score(5, 0, 0, 0)


def test_pick_exemplars_favours_high_engagement_and_is_deterministic() -> None:
    posts = [{"id": i, "likes": 5000 if i % 10 == 0 else 0, "reposts": 0, "replies": 0, "views": 0} for i in range(100)]
    hits = {p["id"] for p in posts if p["likes"]}
    counts = []
    for seed in range(20):
        picked = pick_exemplars(posts, 10, seed)
        assert picked == pick_exemplars(posts, 10, seed)
        assert len({p["id"] for p in picked}) == 10
        scores = [post_engagement(p) for p in picked]
        assert scores == sorted(scores, reverse=True)
        counts.append(sum(p["id"] in hits for p in picked))
    # Weights are 1 + ln(5001) = 9.5 vs 1, so a hit should be picked several times
    # as often as an ordinary post (a uniform pick would give a ratio of 1).
    hit_rate = sum(counts) / (20 * len(hits))
    other_rate = sum(10 - c for c in counts) / (20 * (len(posts) - len(hits)))
    assert hit_rate > 4 * other_rate, (hit_rate, other_rate, counts)
    assert len({tuple(p["id"] for p in pick_exemplars(posts, 10, s)) for s in range(5)}) > 1
    assert len(pick_exemplars(posts[:4], 10, 0)) == 4
    assert pick_exemplars(posts, 0, 0) == [] and pick_exemplars([], 3, 0) == []


def test_split_holdout() -> None:
    posts = list(range(120))
    train, heldout = split_holdout(posts, 0.2, 7)
    assert len(heldout) == 24 and len(train) == 96
    assert sorted(train + heldout) == posts
    assert train == sorted(train) and heldout == sorted(heldout)
    assert split_holdout(posts, 0.2, 7) == (train, heldout)
    assert split_holdout(posts, 0.2, 8).heldout != heldout
    assert split_holdout([1, 2], 0.1, 0).heldout.__len__() == 1
    assert split_holdout([1], 0.5, 0) == ([1], [])
    assert split_holdout(posts, 0.0, 0) == (posts, [])
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError):
            split_holdout(posts, bad, 0)


# --- bundled sample and eval dataset -----------------------------------------


def test_sample_json_equals_a_fresh_generation() -> None:
    assert SAMPLE_PATH.read_text(encoding="utf-8") == render_sample(), (
        "run `python -m use_cases.ghostwriter.sample_accounts` to regenerate"
    )


def test_sample_accounts_shape() -> None:
    accounts = load_sample_accounts()
    assert [a["account_id"] for a in accounts] == [f"10000000000{i}" for i in range(1, 7)]
    assert len({a["handle"] for a in accounts}) == 6
    all_ids: set[str] = set()
    for account in accounts:
        posts = account["posts"]
        assert len(posts) == 120
        assert len({p["text"] for p in posts}) == 120, account["handle"]
        stamps = [p["created_at"] for p in posts]
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s) for s in stamps)
        assert stamps == sorted(stamps) and len(set(stamps)) == 120
        for p in posts:
            assert all(isinstance(p[k], int) and p[k] >= 0 for k in ("likes", "reposts", "replies", "views"))
        all_ids |= {p["id"] for p in posts}
    assert len(all_ids) == 720


def test_eval_dataset_equals_a_fresh_build_and_uses_holdout_split() -> None:
    assert DATASET_PATH.read_text(encoding="utf-8") == render_dataset(), (
        "run `python -m evals.ghostwriter_style_dataset` to regenerate"
    )
    rows = [json.loads(line) for line in DATASET_PATH.read_text(encoding="utf-8").splitlines()]
    by_account = {a["account_id"]: a for a in load_sample_accounts()}
    for account_id, account in by_account.items():
        mine = [r for r in rows if r["account_id"] == account_id]
        assert len({r["prompt"] for r in mine}) >= 5
        expected = [p["id"] for p in split_holdout(account["posts"], HOLDOUT_FRACTION, HOLDOUT_SEED).heldout]
        assert all(r["heldout_post_ids"] == expected and r["handle"] == account["handle"] for r in mine)
        assert all(r["prompt"].startswith("Write a post about ") for r in mine)
