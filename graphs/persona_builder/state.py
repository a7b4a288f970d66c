"""What persona_builder (and its batch form) take, keep and return.

`BuilderInput` is what a caller sets (LangGraph Studio shows only these fields),
`BuilderOutput` what a run returns (the saved version), `BuilderState` everything the nodes
pass along: the posts, the train/held-out split, exemplars, measured metrics, samples.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from typing_extensions import NotRequired, TypedDict

from store.accounts import AccountRow


class Post(TypedDict):
    """A post as the state holds it (`store.accounts.PostRow` with its time as ISO text)."""

    id: str
    account_id: str
    text: str
    created_at: str
    replies: int
    reposts: int
    likes: int
    views: int


class PreviousVersion(TypedDict):
    """What a refinement reads of the current version."""

    version: int
    style_traits: list[str]
    details: dict[str, Any]


class BuildResult(TypedDict):
    """One account's outcome in a batch: `persona_version` on success, else `error`."""

    account_id: str
    success: bool
    persona_version: NotRequired[int]
    error: NotRequired[str]


class BuilderInput(TypedDict):
    """The account to build a persona for.

    `mode`: "create" (default; fails when a persona exists unless `force`) or "refine" (a new
    version from the posts newer than the current one's). `post_limit`: the newest posts to
    read, 100 by default.
    """

    account_id: str
    mode: NotRequired[Literal["create", "refine"]]
    force: NotRequired[bool]
    post_limit: NotRequired[int]


class BuilderOutput(TypedDict):
    """The saved persona version: prompt, traits, measured confidence, summary and details."""

    version: NotRequired[int]
    system_prompt: NotRequired[str]
    style_traits: NotRequired[list[str]]
    confidence_score: NotRequired[float]
    refinement_summary: NotRequired[str]
    details: NotRequired[dict[str, Any]]


class StyleAnalysisRecord(TypedDict):
    """The model's reading of an account's style: traits, voice and topics (empty when its answer
    was unusable)."""

    traits: list[str]
    voice: str
    topics: list[str]


class BuilderState(BuilderInput):
    account: NotRequired[AccountRow]
    previous: NotRequired[PreviousVersion | None]
    posts: NotRequired[list[Post]]
    new_posts: NotRequired[int]
    train: NotRequired[list[Post]]
    heldout: NotRequired[list[Post]]
    exemplars: NotRequired[list[Post]]
    metrics: NotRequired[dict[str, Any]]  # `tools.stylometrics.StyleMetrics` as JSON
    analysis: NotRequired[StyleAnalysisRecord]
    style_traits: NotRequired[list[str]]
    system_prompt: NotRequired[str]
    samples: NotRequired[list[str]]
    confidence_score: NotRequired[float]
    version: NotRequired[int]
    refinement_summary: NotRequired[str]
    details: NotRequired[dict[str, Any]]


class BatchInput(TypedDict):
    """Accounts to create personas for, each as `BuilderInput` with mode "create"."""

    account_ids: list[str]
    force: NotRequired[bool]
    post_limit: NotRequired[int]


class BatchOutput(TypedDict):
    """One result per account: `success` with `persona_version`, or `error`."""

    results: Annotated[list[BuildResult], operator.add]


class BatchState(BatchInput):
    results: Annotated[list[BuildResult], operator.add]


class OneAccount(TypedDict):
    """What the batch sends to each `build_one` run."""

    account_id: str
    force: bool
    post_limit: int
