"""What focus_group takes, keeps and returns.

`FocusGroupInput` is what a caller sets (LangGraph Studio shows only these fields),
`FocusGroupOutput` what a run returns, `FocusGroupState` what the nodes pass along;
`RespondTask` is what one fan-out branch gets (one persona).
"""

from __future__ import annotations

from typing import Annotated

from typing_extensions import NotRequired, TypedDict

from graphs.segment_survey.respondents import ClusterInfo, Respondent, reset_or_add


class FocusGroupInput(TypedDict):
    """One open question. Clusters: `cluster_ids`, else the `top_k` clusters routed for `query`,
    else every cluster; `personas_per_cluster` (1 to 15) takes each cluster's personas that
    stand for the most records."""

    question: str
    cluster_ids: NotRequired[list[int] | None]
    query: NotRequired[str | None]
    top_k: NotRequired[int | None]
    personas_per_cluster: NotRequired[int | None]


class Response(TypedDict):
    persona_id: int
    persona_name: str
    answer: str


class Theme(TypedDict):
    theme: str
    """The words that set this theme's answers apart from the others'."""
    count: int
    """How many personas said something in this theme."""
    persona_ids: list[int]
    quote: str
    """A sentence copied verbatim from one of their answers (the one nearest the theme's centre)."""


class ClusterDiscussion(TypedDict):
    cluster_id: int
    cluster_name: str
    responses: list[Response]
    themes: list[Theme]


class FocusGroupOutput(TypedDict):
    question: str
    clusters: list[ClusterDiscussion]


class ResponseRecord(TypedDict):
    cluster_id: int
    persona_id: int
    persona_name: str
    answer: str


class RespondTask(TypedDict):
    respondent: Respondent
    question: str


class FocusGroupState(FocusGroupInput):
    surveyed: NotRequired[list[ClusterInfo]]
    participants: NotRequired[list[Respondent]]
    responses: Annotated[list[ResponseRecord], reset_or_add]
    clusters: NotRequired[list[ClusterDiscussion]]
