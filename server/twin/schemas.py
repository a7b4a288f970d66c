"""Request and response bodies of the Twin-chat API (`docs/api/twin.md`), and the
contract's cut of the summaries they carry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonDict

from graphs.cluster_router.state import ClusterMatch, Greeting, PersonaMatch
from graphs.segment_survey.raking import Weighting
from server.validation import StrictBody
from store.clusters import SegmentPersonaRow
from store.twin_jobs import TwinJobRow

CLUSTER_SUMMARY_CHARS = 150
PERSONA_SUMMARY_CHARS = 200

# Stripped of white space before the length check: OpenAPI says "something besides white space".
SOME_TEXT: JsonDict = {"pattern": "[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"}
QueryText = Field(
    min_length=1, max_length=2000, description="Free-text description of the segment.", json_schema_extra=SOME_TEXT
)


def cluster_summary(text: str) -> str:
    """The contract's cluster summary: the first 150 characters, then '...'."""
    return text[:CLUSTER_SUMMARY_CHARS] + "..."


def persona_summary(text: str) -> str:
    """The contract's persona summary: the first 200 characters."""
    return text[:PERSONA_SUMMARY_CHARS]


class QueryClustersRequest(StrictBody):
    model_config = ConfigDict(str_strip_whitespace=True)
    query: str = QueryText
    top_k: int = Field(3, ge=1, le=50, description="How many clusters to return (1 to 50).")
    min_similarity: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Optional: return only clusters whose calibrated similarity is at least this "
        "(possibly none). The server's match threshold is TWIN_MATCH_THRESHOLD (0.115 by default).",
    )


class RefinePersonasRequest(StrictBody):
    model_config = ConfigDict(str_strip_whitespace=True)
    query: str = QueryText
    top_k: int = Field(5, ge=1, le=50, description="At most this many personas (1 to 50).")


class TwinChatRequest(StrictBody):
    model_config = ConfigDict(str_strip_whitespace=True)
    message: str = Field(min_length=1, max_length=8000, json_schema_extra=SOME_TEXT)
    session_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Keep a conversation (reuse the id) or start a new one "
        "(a new id). Omitted: the caller's latest session.",
    )


class ClusterOut(BaseModel):
    cluster_id: int
    cluster_name: str
    similarity: float
    summary: str

    @classmethod
    def of(cls, match: ClusterMatch) -> ClusterOut:
        return cls(
            cluster_id=match["cluster_id"],
            cluster_name=match["cluster_name"],
            similarity=match["similarity"],
            summary=cluster_summary(match["summary"]),
        )


class PersonaOut(BaseModel):
    persona_id: int
    persona_name: str
    gender: str
    age: str
    summary: str

    @classmethod
    def of_row(cls, row: SegmentPersonaRow) -> PersonaOut:
        return cls(
            persona_id=row["persona_id"],
            persona_name=row["name"],
            gender=row["gender"],
            age=row["age_band"],
            summary=persona_summary(row["summary"]),
        )

    @classmethod
    def of_match(cls, match: PersonaMatch) -> PersonaOut:
        return cls(
            persona_id=match["persona_id"],
            persona_name=match["persona_name"],
            gender=match["gender"],
            age=match["age"],
            summary=persona_summary(match["summary"]),
        )


class StartChatOut(BaseModel):
    persona_id: int
    persona_name: str
    cluster_name: str
    greeting: str

    @classmethod
    def of(cls, greeting: Greeting) -> StartChatOut:
        return cls(
            persona_id=greeting["persona_id"],
            persona_name=greeting["persona_name"],
            cluster_name=greeting["cluster_name"],
            greeting=greeting["greeting"],
        )


class ChatOut(BaseModel):
    persona_id: int
    reply: str
    session_id: str


# ---------------------------------------------------------------- surveys and focus groups


def _distinct_options(options: list[str]) -> list[str]:
    if any(not o for o in options):
        raise ValueError("every option must be a non-empty answer")
    if len({o.casefold() for o in options}) != len(options):
        raise ValueError("options must be distinct")
    return options


class SegmentChoice(StrictBody):
    """Which clusters: `cluster_ids`, or the `top_k` clusters routed for `query`, or (neither) all."""

    model_config = ConfigDict(str_strip_whitespace=True)
    cluster_ids: list[int] | None = Field(
        None, min_length=1, max_length=50, description="Clusters to ask; omitted (and no query): every cluster."
    )
    query: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        json_schema_extra=SOME_TEXT,
        description="Instead of cluster_ids: ask the top_k clusters this free-text description routes to.",
    )
    top_k: int = Field(3, ge=1, le=50, description="With query: how many routed clusters to ask (1 to 50).")
    async_: bool = Field(
        False,
        alias="async",
        description="Run as a job: answer 202 with a `job_id` and a `status_url` to poll (GET) or cancel "
        "(DELETE) instead of waiting. The header `Prefer: respond-async` does the same.",
    )

    @model_validator(mode="after")
    def _ids_or_query(self) -> SegmentChoice:
        if self.cluster_ids is not None and self.query is not None:
            raise ValueError("give cluster_ids or query, not both")
        return self

    def run_fields(self) -> dict[str, Any]:
        """The request as the graph takes it: without how the caller wants the answer delivered."""
        return self.model_dump(exclude={"async_", "stream"})


class SurveyRequest(SegmentChoice):
    question: str = Field(min_length=1, max_length=2000, description="A closed question.", json_schema_extra=SOME_TEXT)
    options: list[Annotated[str, Field(json_schema_extra=SOME_TEXT)]] = Field(
        min_length=2,
        max_length=10,
        description="2 to 10 distinct answers; every persona picks exactly one.",
        json_schema_extra={"uniqueItems": True},
    )
    samples_per_persona: int = Field(1, ge=1, le=10, description="Times each persona is asked (1 to 10).")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Fixes the option orders and the answers drawn.")
    shuffle_options: bool = Field(
        True, description="Show the options in a different order to each respondent; false for ordered scales."
    )
    check_facts: bool = Field(
        True,
        description="Rule out options that contradict a persona's record (a renter answering Own); "
        "false: the model's answers as they come.",
    )
    method: Literal["auto", "option_likelihood", "label_logprobs", "ssr"] = Field(
        "auto",
        description="How an answer is read: auto (option likelihood on the local model, letter log-probabilities "
        "elsewhere), option_likelihood, label_logprobs, or ssr (the persona answers in its own words and its "
        "similarity to each option gives the distribution). A question on a profile column of the table the "
        "twins were built from is answered from each record whatever the method.",
    )
    weighting: Weighting = Field(
        "raked",
        description="raked: weigh the personas so each cluster's split like its records on gender, age band "
        "and every stored split (home, political giving, household, education, credit tier, region); "
        "age_gender: by each persona's (gender, age band) cell only.",
    )

    @field_validator("options")
    @classmethod
    def _options(cls, options: list[str]) -> list[str]:
        return _distinct_options(options)


class SurveyAnswerOut(BaseModel):
    persona_id: int
    persona_name: str
    weight: float = Field(description="Share of the cluster's records this persona stands for.")
    answer: str
    probabilities: dict[str, float]
    record_id: str | None = Field(None, description="The record of the person this twin stands for.")


class SurveyClusterOut(BaseModel):
    cluster_id: int
    cluster_name: str
    n_personas: int
    n_answers: int
    distribution: dict[str, float] = Field(description="Weighted share of each option; sums to 1.")
    ci95: dict[str, list[float]] = Field(description="[low, high] Wilson 95% interval per option.")
    answers: list[SurveyAnswerOut]


class SurveyOut(BaseModel):
    question: str
    options: list[str]
    clusters: list[SurveyClusterOut]


class FocusGroupRequest(SegmentChoice):
    question: str = Field(min_length=1, max_length=2000, description="An open question.", json_schema_extra=SOME_TEXT)
    personas_per_cluster: int = Field(
        5, ge=1, le=15, description="Personas per cluster (1 to 15): those standing for the most records."
    )
    stream: bool = Field(
        False, description="Stream progress and each answer as it arrives (SSE `data:` lines ending `data: [DONE]`)."
    )

    @model_validator(mode="after")
    def _stream_or_job(self) -> FocusGroupRequest:
        if self.stream and self.async_:
            raise ValueError("give stream or async, not both")
        return self


class FocusGroupResponseOut(BaseModel):
    persona_id: int
    persona_name: str
    answer: str


class FocusGroupThemeOut(BaseModel):
    theme: str = Field(description="The words that set this theme's sentences apart from the others'.")
    count: int = Field(description="Personas who said something in this theme.")
    persona_ids: list[int]
    quote: str = Field(description="A sentence copied verbatim from one of their answers.")


class FocusGroupClusterOut(BaseModel):
    cluster_id: int
    cluster_name: str
    responses: list[FocusGroupResponseOut]
    themes: list[FocusGroupThemeOut]


class FocusGroupOut(BaseModel):
    question: str
    clusters: list[FocusGroupClusterOut]


# ---------------------------------------------------------------- fidelity report

TABLE = "records_csv"  # the request field that holds the table


class FidelityRequest(StrictBody):
    """A table of people and the columns to hold out; the CLI's `personas twin validate`."""

    records_csv: str = Field(
        min_length=1,
        description="The table, one person a row, as CSV text with a header line (UTF-8, at most 20 MB).",
    )
    schema_: dict[str, Any] | None = Field(
        None,
        alias="schema",
        description="Its record-schema/v1 (see docs/twins-from-tables.md); omitted: drafted from the table, "
        "as `personas twin schema` does (a drafted schema has no questions: held-out columns are asked by their label).",
    )
    clusters: int = Field(ge=2, le=50, description="Number of clusters (K) to build the twins in.")
    hold_out: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1,
        max_length=20,
        description="Columns to hide from the twins and ask them: each a category, ordinal or boolean column "
        "of 2 to 10 values, asked by its `question` (else its label).",
    )
    seed: int = Field(7, ge=0, le=2**31 - 1, description="Clustering and answer seed (the CLI's default, 7).")
    async_: bool = Field(
        False,
        alias="async",
        description="Run as a job: answer 202 with a `job_id` and a `status_url`; the report's HTML is then at "
        "`{status_url}/report`. The header `Prefer: respond-async` does the same.",
    )

    @field_validator("hold_out")
    @classmethod
    def _distinct_columns(cls, columns: list[str]) -> list[str]:
        if len(set(columns)) != len(columns):
            raise ValueError("hold_out names a column twice")
        return columns

    @model_validator(mode="wrap")
    @classmethod
    def _without_the_table(cls, data: Any, handler: ModelWrapValidatorHandler[FidelityRequest]) -> FidelityRequest:
        """A 422 echoes the input of each error; the whole table must not come back with it."""
        try:
            return handler(data)
        except ValidationError as exc:
            errors = exc.errors()
            if not any(isinstance(e["input"], dict) and TABLE in e["input"] for e in errors):
                raise
            shortened = []
            for error in errors:
                given = error["input"]
                if isinstance(given, dict) and isinstance(given.get(TABLE), str):
                    given = {**given, TABLE: f"<{len(given[TABLE])} characters>"}
                line: Any = {"type": error["type"], "loc": error["loc"], "input": given}
                if "ctx" in error:
                    line["ctx"] = error["ctx"]
                shortened.append(line)
            try:
                rebuilt = ValidationError.from_exception_data(exc.title, shortened)
            except (KeyError, TypeError, ValueError):  # an error type it cannot rebuild
                raise exc from None
            raise rebuilt from None


class FidelityClusterOut(BaseModel):
    cluster_key: int
    cluster_name: str
    n_twins: int
    weight: float = Field(description="Weight of the cluster's members who answered the question.")
    truth: dict[str, float] = Field(description="The members' answers (weighted shares).")
    twins: dict[str, float] = Field(description="The twins' answers, weighted as a survey weighs them.")
    floor: dict[str, float] = Field(description="The twins' own records, weighted the same way.")
    tvd: dict[str, float] = Field(description="Distance to `truth`: twins, floor, uniform, table, no_record.")
    accuracy: dict[str, float | None] = Field(description="A twin's likeliest answer against its own record.")


class FidelityQuestionOut(BaseModel):
    column: str
    question: str
    options: list[str]
    mean_tvd: dict[str, float | None]
    mean_accuracy: dict[str, float | None]
    clusters: list[FidelityClusterOut]


class FidelityReportOut(BaseModel):
    """The fidelity report: `fidelity.json` of `personas twin validate --report`."""

    records: int
    clusters: int
    model: str
    seed: int
    questions: list[FidelityQuestionOut]


# ---------------------------------------------------------------- jobs

JobState = Literal["queued", "running", "succeeded", "failed", "cancelled"]
_RESULTS: dict[str, type[SurveyOut | FocusGroupOut | FidelityReportOut]] = {
    "survey": SurveyOut,
    "focus_group": FocusGroupOut,
    "fidelity": FidelityReportOut,
}


class JobAcceptedOut(BaseModel):
    job_id: str
    status_url: str = Field(description="GET: the job's state, progress and result; DELETE: cancel it.")
    state: JobState


class JobProgressOut(BaseModel):
    done: int = Field(description="Respondents who have answered in the current run (fidelity: twins asked).")
    total: int | None = Field(
        description="Respondents selected (fidelity: questions to ask, twins and baseline); null until known."
    )


class TwinJobOut(BaseModel):
    job_id: str
    kind: Literal["survey", "focus_group", "fidelity"]
    state: JobState
    progress: JobProgressOut
    created_at: datetime
    started_at: datetime | None = Field(description="When a worker first took the job.")
    finished_at: datetime | None
    error: str | None = Field(description="Why the job failed (state failed).")
    result: SurveyOut | FocusGroupOut | FidelityReportOut | None = Field(
        description="When succeeded: exactly what the synchronous call answers."
    )

    @classmethod
    def of(cls, row: TwinJobRow) -> TwinJobOut:
        result = row["result"]
        shaped: SurveyOut | FocusGroupOut | FidelityReportOut | None = None
        if result is not None:
            shaped = _RESULTS[row["kind"]].model_validate(result)
        return cls(
            job_id=str(row["id"]),
            kind=row["kind"],
            state=row["state"],
            progress=JobProgressOut(done=row["done"], total=row["total"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            error=row["error"],
            result=shaped,
        )
