"""What cluster_router takes, keeps and returns.

`RouterInput` is what a caller sets (LangGraph Studio shows only these fields), `RouterOutput`
what a run returns, `RouterState` everything the nodes pass along (the query's embedding too).
"""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import NotRequired, TypedDict

Task = Literal["route", "clusters", "personas", "greeting"]


class ClusterMatch(TypedDict):
    cluster_id: int
    cluster_name: str
    summary: str
    similarity: float
    """Calibrated score in [0, 1] (3 decimals): at or above the match threshold, the cluster matches."""
    embedding_similarity: float
    constraint_score: float | None
    """Agreement of the query's constraints with the cluster; None when the query named none."""
    raw_score: float
    """Embedding similarity blended with constraint agreement, before calibration (the ranking order)."""
    matches: bool
    """Whether `similarity` reaches the match threshold (`TWIN_MATCH_THRESHOLD` unless the run sets one)."""


class PersonaMatch(TypedDict):
    persona_id: int
    persona_name: str
    gender: str
    age: str
    summary: str
    similarity: float


class Greeting(TypedDict):
    persona_id: int
    persona_name: str
    cluster_name: str
    greeting: str


class RouterInput(TypedDict):
    """A free-text query and how far to take it.

    `task`: "clusters" stops after scoring clusters, "personas" ranks the personas of
    `cluster_id`, "greeting" greets as `persona_id`, "route" (default) goes all the way.
    """

    query: NotRequired[str]
    task: NotRequired[Task]
    top_k: NotRequired[int]
    cluster_id: NotRequired[int | None]
    persona_id: NotRequired[int | None]


class RouterOutput(TypedDict):
    """The parsed constraints, ranked clusters and personas, and the greeting (what the task reached)."""

    constraints: NotRequired[dict[str, Any]]  # `QueryConstraints` as JSON (wanted, excluded, ranges)
    clusters: NotRequired[list[ClusterMatch]]
    cluster_id: NotRequired[int | None]
    personas: NotRequired[list[PersonaMatch]]
    persona_id: NotRequired[int | None]
    greeting: NotRequired[Greeting | None]


class RouterState(RouterInput):
    constraints: NotRequired[dict[str, Any]]  # `QueryConstraints` as JSON (wanted, excluded, ranges)
    query_vector: NotRequired[list[float]]
    clusters: NotRequired[list[ClusterMatch]]
    personas: NotRequired[list[PersonaMatch]]
    greeting: NotRequired[Greeting | None]
