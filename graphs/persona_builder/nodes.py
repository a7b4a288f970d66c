"""persona_builder's nodes: load_posts -> pick_exemplars -> analyse_style -> draft_prompt -> validate -> save.

- Exemplars are sampled with weight `1 + ln(1 + likes + 2*reposts + 3*replies + 0.01*views)`
  (`tools.engagement`), so high-engagement posts dominate without hiding everyday ones.
- Style = a structured-output model call (traits, voice, topics) plus measured
  stylometrics (`tools.stylometrics`); measured traits always come first.
- Validation generates sample posts with the drafted prompt and scores them against
  held-out real posts (`tools.style_similarity`): that measured score is `confidence_score`.
- Refine (mode "refine") analyses the posts newer than the current version's and writes a
  `refinement_summary` computed from the differences. The batch's `build_one` runs the whole
  graph for one account; a failure never stops the others.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, Field, ValidationError

from graphs.persona_builder.context import BuilderContext
from graphs.persona_builder.post_writing import voice_examples, write_post
from graphs.persona_builder.state import (
    BatchState,
    BuilderState,
    BuildResult,
    OneAccount,
    Post,
    PreviousVersion,
    StyleAnalysisRecord,
)
from prompts import render_prompt
from runtime.errors import ServiceError
from runtime.models import make_chat_model, parse_model_name
from runtime.services import services_of
from runtime.settings import Settings
from store.accounts import get_account, latest_posts
from store.ghostwriter import current_version, save_version
from store.types import Pool
from tools.engagement import pick_exemplars, post_engagement, split_holdout
from tools.style_similarity import style_similarity
from tools.stylometrics import StyleMetrics, describe_style, measure_style

EXEMPLARS = 12
HOLDOUT_FRACTION = 0.2
SAMPLES = 4
SEED = 7
SAMPLE_MAX_TOKENS = 120


class BuilderError(ServiceError):
    """A persona cannot be built; `status` is the HTTP status the API answers (400 unless given)."""


class StyleAnalysis(BaseModel):
    traits: list[str] = Field(default_factory=list)
    voice: str = ""
    topics: list[str] = Field(default_factory=list)


async def _model(runtime: Runtime[BuilderContext] | None) -> tuple[str, Settings]:
    """The run's model (else the services' CHAT_MODEL) and the settings of the services it runs on."""
    context: Any = getattr(runtime, "context", None)
    name = getattr(context, "model", "") if context is not None else ""
    if not name and isinstance(context, dict):
        name = context.get("model", "")
    settings = (await services_of(context)).settings
    return name or settings.chat_model, settings


async def _pool(runtime: Runtime[BuilderContext] | None) -> Pool:
    return (await services_of(getattr(runtime, "context", None))).pool


async def load_posts(state: BuilderState, runtime: Runtime[BuilderContext]) -> dict[str, Any]:
    pool = await _pool(runtime)
    account = await get_account(pool, state["account_id"])
    if account is None:
        raise BuilderError("Account not found", status=404)
    mode = state.get("mode", "create")
    previous = await current_version(pool, account["id"])
    if mode == "create" and previous is not None and not state.get("force"):
        raise BuilderError("Persona already exists for this account. Use force=true to recreate.")
    if mode == "refine" and previous is None:
        raise BuilderError("Persona not found for this account", status=404)
    limit = int(state.get("post_limit") or 100)
    posts = await latest_posts(pool, account["id"], limit)
    if not posts:
        raise BuilderError(
            "No posts found for this account. Sync posts first."
            if mode == "create"
            else "No posts found for this account"
        )
    new_posts = len(posts)
    if mode == "refine" and previous is not None:
        after = (previous["details"] or {}).get("latest_post_at")
        if after:
            cut = datetime.fromisoformat(after)
            new_posts = sum(1 for p in posts if p["created_at"] > cut)
    plain = [Post(**{**p, "created_at": p["created_at"].isoformat()}) for p in posts]
    return {
        "account": account,
        "previous": _plain_version(previous),
        "posts": plain,
        "new_posts": new_posts,
        "mode": mode,
    }


def _plain_version(row: Mapping[str, Any] | None) -> PreviousVersion | None:
    if row is None:
        return None
    return PreviousVersion(
        version=row["version"], style_traits=list(row["style_traits"] or []), details=dict(row["details"] or {})
    )


def pick(state: BuilderState) -> dict[str, Any]:
    split = split_holdout(state["posts"], HOLDOUT_FRACTION, SEED)
    exemplars = pick_exemplars(split.train, EXEMPLARS, SEED)
    return {"train": split.train, "heldout": split.heldout, "exemplars": exemplars}


def _measured_lines(m: StyleMetrics) -> str:
    return "\n".join(
        [
            f"- typical length: {m.median_chars:.0f} characters, {m.median_words:.0f} words",
            f"- emoji per post: {m.emoji_per_post:.2f}; hashtags per post: {m.hashtags_per_post:.2f}; "
            f"mentions per post: {m.mentions_per_post:.2f}; links per post: {m.links_per_post:.2f}",
            f"- posts starting lowercase: {m.lowercase_start_share:.0%}; ALL-CAPS words: {m.all_caps_word_share:.0%}",
            f"- per post: {m.exclamations_per_post:.2f} exclamation marks, {m.questions_per_post:.2f} questions, "
            f"{m.ellipses_per_post:.2f} ellipses, {m.line_breaks_per_post:.2f} line breaks",
            f"- mean sentence length: {m.mean_sentence_words:.1f} words; vocabulary richness (HD-D): "
            f"{m.vocabulary_richness:.2f}",
            f"- favourite words: {', '.join(m.top_words) or 'none'}",
        ]
    )


def _quoted(posts: Sequence[Mapping[str, Any]]) -> str:
    return "\n---\n".join(p["text"] for p in posts)


def parse_analysis(text: str) -> StyleAnalysis:
    """The first JSON object in `text` that fits `StyleAnalysis`; empty when there is none."""
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(text[start:])
            return StyleAnalysis.model_validate(value)
        except (ValueError, ValidationError):
            continue
    return StyleAnalysis()


async def _analyse(name: str, settings: Settings, prompt: str) -> StyleAnalysis:
    """Structured output where the provider supports it; the local llama.cpp server gets a plain
    call whose JSON is parsed (its grammar-constrained JSON mode is too slow for a small CPU model).
    An unusable answer leaves only the measured traits: nothing is made up."""
    if parse_model_name(name).provider == "local":
        reply = await make_chat_model(name, temperature=0.0, max_tokens=200, settings=settings).ainvoke(
            [HumanMessage(prompt)]
        )
        return parse_analysis(reply.text)
    model = make_chat_model(name, temperature=0.0, max_tokens=400, settings=settings)
    try:
        analysis = await model.with_structured_output(StyleAnalysis).ainvoke([HumanMessage(prompt)])
    except (ValidationError, ValueError):
        return StyleAnalysis()
    return analysis if isinstance(analysis, StyleAnalysis) else StyleAnalysis.model_validate(analysis)


async def analyse_style(state: BuilderState, runtime: Runtime[BuilderContext]) -> dict[str, Any]:
    metrics = measure_style([p["text"] for p in state["train"] or state["posts"]])
    previous = state.get("previous")
    previous_block = (
        render_prompt(
            "ghostwriter_previous",
            version=previous["version"],
            traits="\n".join(f"- {t}" for t in previous["style_traits"]),
        )
        if previous
        else ""
    )
    prompt = render_prompt(
        "ghostwriter_analysis",
        handle=state["account"]["handle"],
        previous_block=previous_block,
        measured=_measured_lines(metrics),
        posts=_quoted(state["exemplars"]),
    )
    analysis = await _analyse(*await _model(runtime), prompt)
    measured = describe_style(metrics)
    extra = [t.strip() for t in analysis.traits if t.strip() and t.strip().lower() not in {m.lower() for m in measured}]
    record: StyleAnalysisRecord = {"traits": analysis.traits, "voice": analysis.voice, "topics": analysis.topics}
    return {"metrics": metrics.model_dump(), "analysis": record, "style_traits": measured + extra[:8]}


def draft_prompt(state: BuilderState) -> dict[str, Any]:
    account = state["account"]
    analysis = state["analysis"]
    metrics = StyleMetrics.model_validate(state["metrics"])
    text = render_prompt(
        "ghostwriter_persona",
        handle=account["handle"],
        display_name=account.get("display_name") or account["handle"],
        voice=analysis.get("voice") or "as shown in the examples",
        traits="\n".join(f"- {t}" for t in state["style_traits"]) or "- as shown in the examples",
        measured=_measured_lines(metrics),
        topics=", ".join(analysis.get("topics") or metrics.top_words[:6]) or "as in the examples",
        examples=_quoted(state["exemplars"]),
    )
    return {"system_prompt": text}


def _sample_topics(state: BuilderState) -> list[str]:
    topics = [t for t in state["analysis"].get("topics") or [] if t.strip()]
    topics += StyleMetrics.model_validate(state["metrics"]).top_words
    topics = topics or ["something on your mind today"]
    return [topics[i % len(topics)] for i in range(SAMPLES)]


async def validate(state: BuilderState, runtime: Runtime[BuilderContext]) -> dict[str, Any]:
    heldout = [p["text"] for p in state["heldout"]]
    if not heldout:
        return {"samples": [], "confidence_score": 0.0}
    name, settings = await _model(runtime)
    model = make_chat_model(name, temperature=0.7, max_tokens=SAMPLE_MAX_TOKENS, settings=settings)
    examples = voice_examples(state["exemplars"])
    samples: list[str] = []
    for topic in _sample_topics(state):
        text = await write_post(model, state["system_prompt"], examples, topic)
        if text:
            samples.append(text)
    score = style_similarity(samples, heldout).combined if samples else 0.0
    return {"samples": samples, "confidence_score": round(float(score), 4)}


def _summary(state: BuilderState) -> str:
    previous = state.get("previous")
    if state.get("mode") != "refine" or previous is None:
        return "Initial persona creation with engagement context"
    old, new = set(previous["style_traits"]), set(state["style_traits"])
    parts = [f"Persona refined with {state['new_posts']} new posts and engagement context"]
    added, removed = sorted(new - old), sorted(old - new)
    if added:
        parts.append("traits added: " + "; ".join(added))
    if removed:
        parts.append("traits removed: " + "; ".join(removed))
    before = previous["details"].get("confidence_score")
    if before is not None:
        parts.append(f"confidence {float(before):.2f} -> {state['confidence_score']:.2f}")
    return ". ".join(parts)


async def save(state: BuilderState, runtime: Runtime[BuilderContext]) -> dict[str, Any]:
    posts = state["posts"]
    previous = state.get("previous")
    cumulative = len(posts)
    if previous is not None and state.get("mode") == "refine":
        cumulative = int(previous["details"].get("posts_analyzed", 0)) + int(state["new_posts"])
    details = {
        "posts_analyzed_count": len(posts),
        "posts_analyzed": cumulative,
        "confidence_score": state["confidence_score"],
        "engagement_aware": True,
        "avg_engagement": round(sum(post_engagement(p) for p in posts) / len(posts), 4),
        # compared as times: ISO strings with different UTC offsets do not sort as the times do
        "latest_post_at": max((p["created_at"] for p in posts), key=datetime.fromisoformat),
        "heldout_posts": len(state["heldout"]),
        "samples": state["samples"],
        "voice_examples": voice_examples(state["exemplars"]),
        "metrics": state["metrics"],
    }
    summary = _summary(state)
    version = await save_version(
        await _pool(runtime),
        account=state["account"],
        system_prompt=state["system_prompt"],
        style_traits=state["style_traits"],
        refinement_summary=summary,
        details=details,
    )
    return {"version": version, "refinement_summary": summary, "details": details}


# ---------------------------------------------------------------- batch


def fan_out(state: BatchState) -> list[Send]:
    return [
        Send(
            "build_one",
            OneAccount(account_id=a, force=bool(state.get("force")), post_limit=int(state.get("post_limit") or 100)),
        )
        for a in state["account_ids"]
    ]


def build_one_node(single: CompiledStateGraph[Any, Any, Any, Any]) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The batch's node: runs `single` (the compiled persona_builder) for one account."""

    async def build_one(state: OneAccount, runtime: Runtime[BuilderContext]) -> dict[str, Any]:
        try:
            out = await single.ainvoke(
                {
                    "account_id": state["account_id"],
                    "mode": "create",
                    "force": state["force"],
                    "post_limit": state["post_limit"],
                },
                context=runtime.context,
            )
            result = BuildResult(account_id=state["account_id"], success=True, persona_version=out["version"])
        except BuilderError as exc:
            detail = str(exc)
            result = BuildResult(
                account_id=state["account_id"],
                success=False,
                error="No posts found" if detail.startswith("No posts found") else detail,
            )
        except Exception as exc:  # one account's failure never stops the others
            result = BuildResult(
                account_id=state["account_id"],
                success=False,
                error=f"Persona creation failed ({type(exc).__name__})",
            )
        return {"results": [result]}

    return build_one
