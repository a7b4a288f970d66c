"""segment_survey's nodes: select_respondents -> ask (one branch per persona and sample, via
`Send`) -> aggregate."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Send

from domain.record_answers import answer_of, record_answers
from domain.record_schema import RecordSchema
from graphs.segment_survey.closed_answer import (
    MAX_OPTIONS,
    TABLE_METHOD,
    ClosedAnswer,
    ask_closed_question,
    draw_answer,
    excluding,
    shuffled_order,
    with_prior,
)
from graphs.segment_survey.context import SurveyContext, concurrency_gate, concurrency_limit, survey_context
from graphs.segment_survey.fact_options import ruled_out
from graphs.segment_survey.raking import DEFAULT_WEIGHTING, WEIGHTINGS, Weighting
from graphs.segment_survey.respondents import RecordAnswer, Respondent, gather_respondents
from graphs.segment_survey.segment_prior import segment_prior
from graphs.segment_survey.state import AnswerRecord, AskTask, ClusterSurvey, PersonaAnswer, SurveyState
from graphs.segment_survey.survey_prompt import prompt_writer
from graphs.segment_survey.weights import confidence_intervals, weighted_distribution
from runtime.errors import ServiceError
from runtime.models import parse_model_name
from runtime.services import services_of
from store.twin import stored_record_schema

MAX_SAMPLES = 10


class SurveyInputError(ServiceError):
    """The survey's input cannot be answered (422), e.g. one option or repeated options."""

    status = 422


def check_input(state: SurveyState) -> tuple[str, list[str], int]:
    """(question, options, samples per persona), or a SurveyInputError naming the field."""
    question = str(state.get("question") or "").strip()
    if not question:
        raise SurveyInputError("question: a survey needs a question.")
    options = [str(o).strip() for o in state.get("options") or []]
    if not 2 <= len(options) <= MAX_OPTIONS:
        raise SurveyInputError(f"options: give 2 to {MAX_OPTIONS} options.")
    if any(not o for o in options) or len(set(options)) != len(options):
        raise SurveyInputError("options: every option must be a distinct, non-empty answer.")
    samples = state.get("samples_per_persona")
    samples = 1 if samples is None else int(samples)
    if not 1 <= samples <= MAX_SAMPLES:
        raise SurveyInputError(f"samples_per_persona: ask each persona 1 to {MAX_SAMPLES} times.")
    return question, options, samples


def check_weighting(state: SurveyState) -> Weighting:
    """The survey's `weighting` ("raked" when unset), or a SurveyInputError naming the field."""
    weighting = state.get("weighting")
    if weighting is None:
        return DEFAULT_WEIGHTING
    if weighting == "raked" or weighting == "age_gender":
        return weighting
    raise SurveyInputError(f"weighting: give one of {', '.join(WEIGHTINGS)}.")


async def select_respondents(state: SurveyState, runtime: Runtime[SurveyContext]) -> dict[str, Any]:
    """Check the input, pick the clusters and load their personas with their weights."""
    question, options, samples = check_input(state)
    weighting = check_weighting(state)
    services = await services_of(runtime.context)
    stored = await stored_record_schema(services.pool)
    schema = RecordSchema.model_validate(stored) if stored else None
    surveyed, respondents = await gather_respondents(
        services,
        state,
        weighting=weighting,
        record_answer=_record_answer(schema, question, options),
        prompt_of=await prompt_writer(schema, question, services.require_embeddings() if schema else None),
    )
    return {
        "question": question,
        "options": options,
        "samples_per_persona": samples,
        "weighting": weighting,
        "auto_method": TABLE_METHOD if schema is not None else None,
        "surveyed": surveyed,
        "respondents": respondents,
        "answers": None,  # empties answers of an earlier run on the same thread
    }


async def fan_out(state: SurveyState) -> list[Send] | str:
    """One `ask` branch per persona and sample; straight to aggregate when nobody is there."""
    tasks = [
        Send(
            "ask",
            AskTask(
                respondent=respondent,
                sample=sample,
                question=state["question"],
                options=list(state["options"]),
                seed=int(state.get("seed") or 0),
                shuffle_options=state.get("shuffle_options") is not False,
                check_facts=state.get("check_facts") is not False,
                auto_method=state.get("auto_method"),
            ),
        )
        for respondent in state.get("respondents") or []
        for sample in range(int(state.get("samples_per_persona") or 1))
    ]
    return tasks or "aggregate"


def _record_answer(schema: RecordSchema | None, question: str, options: list[str]) -> RecordAnswer | None:
    """How a persona's record answers the question, when it asks about a profile column of the
    table the stored twins were built from; None when the model answers."""
    matched = record_answers(question, options, schema)
    if matched is None:
        return None
    column, spec = matched
    return lambda attributes: answer_of(attributes, column, spec, options)


def _from_record(option: str, options: list[str], order: list[int]) -> ClosedAnswer:
    return ClosedAnswer(
        answer=option,
        probabilities={o: 1.0 if o == option else 0.0 for o in options},
        method="record",
        order=tuple(order),
    )


async def ask(task: AskTask, runtime: Runtime[SurveyContext], config: RunnableConfig) -> dict[str, Any]:
    """One persona answers once: options in this respondent's order, those its facts rule out
    dropped (or, when its record is silent on a fact its segment stores, the probabilities
    weighed by how the segment's records split), the answer drawn from the option probabilities (seeded), so answers keep the model's
    spread and a seed repeats them."""
    context = survey_context(getattr(runtime, "context", None), config)
    services = await services_of(context)
    model = context.model or services.settings.chat_model
    local = parse_model_name(model).provider == "local"
    respondent: Respondent = task["respondent"]
    keys = (task["seed"], respondent["persona_id"], task["sample"])
    n = len(task["options"])
    order = shuffled_order(n, *keys) if task["shuffle_options"] else list(range(n))
    from_record = respondent.get("record_answer")
    if from_record is not None:
        return {"answers": [_answer_record(task, respondent, _from_record(from_record, task["options"], order), {})]}
    async with concurrency_gate(getattr(runtime, "context", None), concurrency_limit(context.max_concurrency, local)):
        answer = await ask_closed_question(
            model,
            respondent.get("survey_prompt") or respondent["system_prompt"],
            task["question"],
            task["options"],
            seed=task["seed"],
            order=order,
            method=(task.get("auto_method") or "auto") if context.method == "auto" else context.method,
            settings=services.settings,
            embeddings=services.require_embeddings() if context.method == "ssr" else None,
        )
    ruled = ruled_out(task["question"], task["options"], respondent["facts"]) if task["check_facts"] else {}
    answer = excluding(answer, ruled)
    if task["check_facts"] and not ruled:  # the record is silent: read the answer in its segment's light
        prior = segment_prior(task["question"], task["options"], respondent.get("segment_shares") or {})
        if prior is not None:
            answer = with_prior(answer, prior)
    return {"answers": [_answer_record(task, respondent, answer, ruled)]}


def _answer_record(task: AskTask, respondent: Respondent, answer: ClosedAnswer, ruled: dict[str, str]) -> AnswerRecord:
    return AnswerRecord(
        cluster_id=respondent["cluster_id"],
        persona_id=respondent["persona_id"],
        persona_name=respondent["persona_name"],
        weight=respondent["weight"],
        sample=task["sample"],
        answer=draw_answer(answer, task["seed"], respondent["persona_id"], task["sample"]),
        probabilities={o: round(p, 4) for o, p in answer.probabilities.items()},
        method=answer.method,
        ruled_out=ruled,
        record_id=respondent.get("record_id"),
    )


def summarise_cluster(
    options: list[str], info: dict[str, Any], answers: list[AnswerRecord], samples: int
) -> ClusterSurvey:
    """A cluster's weighted distribution, its intervals and its answers (persona order, then sample)."""
    ordered = sorted(answers, key=lambda a: (a["persona_id"], a["sample"]))
    distribution, _total = weighted_distribution(options, [(a["answer"], a["weight"] / samples) for a in ordered])
    persona_weights = list({a["persona_id"]: a["weight"] for a in ordered}.values())
    intervals = confidence_intervals(distribution, persona_weights)
    return ClusterSurvey(
        cluster_id=info["cluster_id"],
        cluster_name=info["cluster_name"],
        n_personas=info["n_personas"],
        n_answers=len(ordered),
        distribution=distribution,
        ci95={o: list(intervals[o]) for o in options},
        answers=[
            PersonaAnswer(
                persona_id=a["persona_id"],
                persona_name=a["persona_name"],
                weight=round(a["weight"], 4),
                answer=a["answer"],
                probabilities=a["probabilities"],
                record_id=a.get("record_id"),
            )
            for a in ordered
        ],
    )


async def aggregate(state: SurveyState) -> dict[str, Any]:
    by_cluster: dict[int, list[AnswerRecord]] = defaultdict(list)
    for answer in state.get("answers") or []:
        by_cluster[answer["cluster_id"]].append(answer)
    options = list(state["options"])
    samples = int(state.get("samples_per_persona") or 1)
    clusters = [
        summarise_cluster(options, dict(info), by_cluster.get(info["cluster_id"], []), samples)
        for info in state.get("surveyed") or []
    ]
    return {"question": state["question"], "options": options, "clusters": clusters}
