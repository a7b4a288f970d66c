"""The fidelity report as a use case of the REST API: a table of people sent as CSV text is
checked (cells, schema, hold-out columns, clusters) before anything runs, so a bad request is a
400 naming the column and row and a job never fails on input that could have been refused; then
`use_cases.twin.fidelity.validate_twins` runs it, with progress, and the report is its JSON (the
CLI's `fidelity.json`) or HTML page. The stored twins are never touched."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings

from graphs.segment_survey.context import concurrency_limit
from runtime.errors import ConfigError, ServiceError
from runtime.models import parse_model_name
from runtime.settings import Settings
from runtime.upstream import MODEL_FAILED, is_upstream_failure, raise_as_upstream_failure
from use_cases.twin.fidelity import FidelityError, Progress, held_out_schema, report_json, validate_twins
from use_cases.twin.fidelity_report import render_html
from use_cases.twin.record_table import RecordTable, check_table, draft_table_schema, parse_schema, read_csv_text
from use_cases.twin.segments.model import NoWeight, TooFewRecords, check_clustering

MAX_TABLE_BYTES = 20 * 1024 * 1024
DEFAULT_SEED = 7  # the CLI's
TABLE_FIELD = "records_csv"
TOO_LARGE = "{field} is larger than the limit of {limit} bytes."
TABLE_GONE = "The job's table is no longer stored; submit it again."


class FidelityInputError(ServiceError):
    """The table, its schema, a hold-out column or the number of clusters cannot be used."""

    status = 400


@dataclass(frozen=True)
class FidelityRun:
    """A checked request: the parsed table and what a job stores to run it again (the table's
    CSV text aside)."""

    table: RecordTable
    schema: dict[str, Any]  # as given, or drafted from the table
    clusters: int
    hold_out: list[str]
    seed: int

    def job_request(self) -> dict[str, Any]:
        return {"schema": self.schema, "clusters": self.clusters, "hold_out": self.hold_out, "seed": self.seed}


def _sentence(message: str) -> str:
    message = message.strip()
    return message if message.endswith((".", "!", "?")) else message + "."


def _check(
    records_csv: str, schema: dict[str, Any] | None, clusters: int, hold_out: Sequence[str], seed: int
) -> FidelityRun:
    limit = MAX_TABLE_BYTES
    if len(records_csv) > limit or len(records_csv.encode("utf-8")) > limit:
        raise ServiceError(TOO_LARGE.format(field=TABLE_FIELD, limit=limit), status=413)
    try:
        columns = read_csv_text(records_csv, TABLE_FIELD)
        if schema is None:
            schema, _notes = draft_table_schema(columns)
            parsed = parse_schema(schema, "the schema drafted from records_csv")
        else:
            parsed = parse_schema(schema, "schema")
        table = check_table(columns, parsed)
    except ConfigError as exc:  # the CLI's "cannot start" is a bad request here
        raise FidelityInputError(str(exc)) from None
    for name in hold_out:
        spec = parsed.columns.get(name)
        if spec is not None and spec.use != "profile":
            raise FidelityInputError(f"hold_out {name}: the schema ignores this column (use 'ignore').")
    try:
        held_out_schema(parsed, hold_out)
    except FidelityError as exc:  # its messages name the CLI's option
        raise FidelityInputError(_sentence(str(exc).replace("--hold-out ", "hold_out ", 1))) from None
    try:
        check_clustering(len(table.records), clusters, sum(r.weight for r in table.records))
    except NoWeight as exc:
        raise FidelityInputError(f"{TABLE_FIELD}: {_sentence(str(exc))}") from None
    except TooFewRecords as exc:
        raise FidelityInputError(f"clusters: {_sentence(str(exc))}") from None
    return FidelityRun(table=table, schema=schema, clusters=clusters, hold_out=list(hold_out), seed=seed)


async def check_request(
    records_csv: str,
    schema: dict[str, Any] | None,
    clusters: int,
    hold_out: Sequence[str],
    seed: int = DEFAULT_SEED,
) -> FidelityRun:
    """The request checked as far as it can be without clustering: the table's size (413), its
    cells against the schema (given, or drafted as the CLI drafts one), each hold-out column and
    the number of records per cluster (400s that name the column, row or field)."""
    return await asyncio.to_thread(_check, records_csv, schema, clusters, hold_out, seed)


async def run_fidelity(
    run: FidelityRun,
    model: str,
    *,
    settings: Settings | None = None,
    embeddings: Embeddings | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The report JSON: twins built without the held-out columns, each asked their questions.
    A clustering that cannot be made (a cluster too small) is a 400; a failing model a 502."""
    local = parse_model_name(model).provider == "local"
    try:
        _segments, results = await validate_twins(
            run.table,
            run.hold_out,
            run.clusters,
            model,
            seed=run.seed,
            settings=settings,
            concurrency=concurrency_limit(0, local),
            embeddings=embeddings,
            progress=progress,
        )
    except Exception as exc:
        if isinstance(exc, ValueError) and not is_upstream_failure(exc):
            raise FidelityInputError(_sentence(str(exc)[:1].upper() + str(exc)[1:])) from None
        raise_as_upstream_failure(exc, MODEL_FAILED)
    meta = {"records": len(run.table.records), "clusters": run.clusters, "model": model, "seed": run.seed}
    return report_json(results, meta)


async def run_stored(
    request: dict[str, Any],
    records_csv: str | None,
    model: str,
    *,
    settings: Settings,
    embeddings: Embeddings | None,
    progress: Progress,
) -> dict[str, Any]:
    """A job's run: its stored request and table, checked again (the same checks it passed when
    it was accepted), then the report."""
    if records_csv is None:
        raise FidelityInputError(TABLE_GONE)
    run = await check_request(
        records_csv, request["schema"], int(request["clusters"]), list(request["hold_out"]), int(request["seed"])
    )
    return await run_fidelity(run, model, settings=settings, embeddings=embeddings, progress=progress)


def report_html(report: dict[str, Any]) -> str:
    """The report as the CLI's `fidelity.html`: one self-contained page with a chart per cluster."""
    return render_html(report)
