"""What segment_survey takes, keeps and returns.

`SurveyInput` is what a caller sets (LangGraph Studio shows only these fields), `SurveyOutput`
what a run returns, `SurveyState` what the nodes pass along; `AskTask` is what one fan-out
branch gets (one persona, one sample).
"""

from __future__ import annotations

from typing import Annotated

from typing_extensions import NotRequired, TypedDict

from graphs.segment_survey.closed_answer import Method
from graphs.segment_survey.raking import Weighting
from graphs.segment_survey.respondents import ClusterInfo, Respondent, reset_or_add


class SurveyInput(TypedDict):
    """One closed question for the personas of some clusters.

    `options`: 2 to 10 distinct answers. Clusters: `cluster_ids`, else the `top_k` clusters
    routed for `query`, else every cluster. `samples_per_persona` (1 to 10) asks each persona
    that many times, with the options in a different order each time when `shuffle_options`
    (default true; set false for ordered scales). `seed` fixes the orders and the draws.
    `check_facts` (default true): an option that contradicts the persona's record (a renter
    answering "Own") gets probability 0, so twins answer what their records hold; where the
    record is silent and the cluster stores how its records split on the fact (home, household,
    education, credit, region), the model's probabilities (their square root: a small model is
    overconfident) are multiplied by that split.
    `weighting`: "raked" (default) weighs each persona so the cluster's personas split like its
    records on gender, age band and every other split the cluster stores; "age_gender" by its
    (gender, age band) cell only.
    """

    question: str
    options: list[str]
    cluster_ids: NotRequired[list[int] | None]
    query: NotRequired[str | None]
    top_k: NotRequired[int | None]
    samples_per_persona: NotRequired[int | None]
    seed: NotRequired[int | None]
    shuffle_options: NotRequired[bool | None]
    check_facts: NotRequired[bool | None]
    weighting: NotRequired[Weighting | None]


class PersonaAnswer(TypedDict):
    persona_id: int
    persona_name: str
    weight: float
    """The persona's share of its cluster's records as the survey's `weighting` reckons it (the
    same for each of its samples)."""
    answer: str
    probabilities: dict[str, float]
    record_id: NotRequired[str | None]
    """The record of the person the twin stands for (None for twins without one)."""


class ClusterSurvey(TypedDict):
    cluster_id: int
    cluster_name: str
    n_personas: int
    n_answers: int
    distribution: dict[str, float]
    """Share of each option among the answers, each answer weighted by its persona's weight
    divided by the samples per persona; sums to 1."""
    ci95: dict[str, list[float]]
    """Wilson 95% interval per option on Kish's effective number of personas."""
    answers: list[PersonaAnswer]


class SurveyOutput(TypedDict):
    question: str
    options: list[str]
    clusters: list[ClusterSurvey]


class AnswerRecord(TypedDict):
    cluster_id: int
    persona_id: int
    persona_name: str
    weight: float
    sample: int
    answer: str
    probabilities: dict[str, float]
    method: str
    ruled_out: dict[str, str]
    """Options the persona's facts ruled out, with the fact each contradicts."""
    record_id: NotRequired[str | None]


class AskTask(TypedDict):
    respondent: Respondent
    sample: int
    question: str
    options: list[str]
    seed: int
    shuffle_options: bool
    check_facts: bool
    auto_method: NotRequired[Method | None]
    """What the `auto` method means for these twins (`SurveyState.auto_method`)."""


class SurveyState(SurveyInput):
    auto_method: NotRequired[Method | None]
    """What the `auto` method means for the twins surveyed: `closed_answer.TABLE_METHOD` for the
    twins of a table; None for the demo's (the provider decides)."""
    surveyed: NotRequired[list[ClusterInfo]]
    respondents: NotRequired[list[Respondent]]
    answers: Annotated[list[AnswerRecord], reset_or_add]
    clusters: NotRequired[list[ClusterSurvey]]
