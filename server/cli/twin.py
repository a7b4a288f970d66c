"""`personas twin ...`: build segment twins from a record table, import them from JSON,
or load the bundled demo set. Each re-run replaces the twins atomically."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from runtime.settings import get_settings
from use_cases.twin.segments.model import SegmentSet

if TYPE_CHECKING:
    from graphs.segment_survey.state import SurveyInput


def _say(message: str) -> None:
    print(f"  {message}", flush=True)


@contextmanager
def _progress_bar(desc: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A bar of answers on stderr, and the (done, total) callback that moves it."""
    from tqdm import tqdm

    with tqdm(total=0, unit="answer", desc=desc, file=sys.stderr, disable=quiet) as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield progress


async def _store(segments: SegmentSet) -> int:
    from runtime.services import Services
    from use_cases.twin.segment_import import replace_segments

    services = await Services.acreate(get_settings())
    try:
        _say("starting the database and the embeddings")
        await services.start(with_model=False, with_embeddings=True)
        result = await replace_segments(services.pool, segments, services.require_embeddings(), progress=_say)
    finally:
        await services.stop()
    ids = f" (persona ids {result.first_persona_id}-{result.last_persona_id})" if result.personas else ""
    print(f"Done: {result.clusters} clusters and {result.personas} personas{ids} replace the previous twins.")
    for cluster in segments.clusters:
        print(f"  cluster {cluster.key}: {cluster.name} ({len(segments.personas_of(cluster.key))} personas)")
    return 0


async def _build(args: argparse.Namespace) -> int:
    from use_cases.twin.segment_files import build_from_records, build_from_table, is_demo_table, write_segment_set

    path = Path(args.records)
    print(f"Reading {path}...", flush=True)
    if args.schema is None and args.codebook is None and await asyncio.to_thread(is_demo_table, path):
        segments = await build_from_records(path, args.clusters, args.seed, _say)
    else:
        schema = Path(args.schema) if args.schema else None
        codebook = Path(args.codebook) if args.codebook else None
        segments = await build_from_table(path, schema, args.clusters, args.seed, _say, codebook)
    if args.out:
        await asyncio.to_thread(write_segment_set, segments, args.out)
        _say(f"wrote {args.out}")
    return await _store(segments)


async def _schema(args: argparse.Namespace) -> int:
    import json

    from use_cases.twin.record_table import draft_table_schema, read_columns

    columns = await asyncio.to_thread(read_columns, Path(args.records))
    codebook = Path(args.codebook) if args.codebook else None
    schema, notes = await asyncio.to_thread(draft_table_schema, columns, codebook)
    print(json.dumps(schema, indent=1, ensure_ascii=False))
    print(f"Drafted a schema for {len(columns)} columns. Check these guesses:", file=sys.stderr)
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    return 0


async def _import(args: argparse.Namespace) -> int:
    from use_cases.twin.segment_files import read_segment_set

    path = Path(args.file)
    print(f"Reading {path}...", flush=True)
    segments = await asyncio.to_thread(read_segment_set, path)
    _say(f"{len(segments.clusters)} clusters, {len(segments.personas)} personas")
    return await _store(segments)


async def _demo(args: argparse.Namespace) -> int:
    from use_cases.twin.segments.demo import demo_segments

    print("Loading the bundled demo segment set...", flush=True)
    return await _store(demo_segments())


def _survey_request(args: argparse.Namespace) -> SurveyInput:
    """The survey as the REST API takes it, checked by the same schema (a ValueError names the field)."""
    from pydantic import ValidationError

    from server.twin.schemas import SurveyRequest

    body = {
        "question": args.question,
        "options": args.option or [],
        "cluster_ids": args.cluster,
        "query": args.query,
        "top_k": args.top_k,
        "samples_per_persona": args.samples,
        "seed": args.seed,
        "shuffle_options": not args.keep_order,
        "check_facts": not args.no_fact_check,
        "weighting": args.weighting,
        "method": args.method,
    }
    try:
        return cast("SurveyInput", SurveyRequest.model_validate(body).run_fields())
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "request"
        raise ValueError(f"{field}: {first['msg']}") from None


def _print_survey(result: dict) -> None:
    print(f"{result['question']}")
    width = max(len(o) for o in result["options"])
    for cluster in result["clusters"]:
        print(
            f"\ncluster {cluster['cluster_id']}: {cluster['cluster_name']} "
            f"({cluster['n_personas']} personas, {cluster['n_answers']} answers)"
        )
        for option in result["options"]:
            share = cluster["distribution"][option]
            low, high = cluster["ci95"][option]
            print(f"  {option:<{width}}  {share:6.1%}  (95% CI {low:.1%} - {high:.1%})")


POLL_SECONDS = 0.5


class JobFailed(Exception):
    """The server refused the job, or the job failed or was cancelled: the message says which."""


def _job_error(response: Any) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail) if detail else f"the server answered {response.status_code}"


async def follow_job(http: Any, status_url: str, progress: Callable[[int, int], None]) -> dict[str, Any]:
    """Poll a twin job until it ends, moving `progress`; its result, or JobFailed. Interrupted
    (Ctrl-C, SIGTERM), it cancels the job on the server before it gives up."""
    try:
        while True:
            response = await http.get(status_url)
            if response.status_code != 200:
                raise JobFailed(_job_error(response))
            job = response.json()
            progress(job["progress"]["done"], job["progress"]["total"] or 0)
            if job["state"] == "succeeded":
                return job["result"]
            if job["state"] in ("failed", "cancelled"):
                raise JobFailed(job["error"] or f"the job was {job['state']}")
            await asyncio.sleep(POLL_SECONDS)
    except asyncio.CancelledError:
        # the server's work is for nobody once its client has gone
        await asyncio.shield(http.delete(status_url))
        raise


async def _survey_on_server(args: argparse.Namespace, request: SurveyInput) -> dict[str, Any]:
    """The survey as a job of a running server's Twin API, followed with a progress bar."""
    import os

    import httpx

    key = args.api_key or os.environ.get("TWIN_API_KEY")
    base = args.server.rstrip("/") + "/"
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key} if key else {}, timeout=60) as http:
        response = await http.post("survey", json={**request, "async": True})
        if response.status_code != 202:
            raise JobFailed(_job_error(response))
        # the status URL is a path from the server's root
        status_url = str(httpx.URL(base).join(response.json()["status_url"]))
        print(f"Job {response.json()['job_id']} accepted ({status_url})", file=sys.stderr, flush=True)
        with _progress_bar("Surveying", args.quiet) as progress:
            return await follow_job(http, status_url, progress)


async def _survey(args: argparse.Namespace) -> int:
    from graphs.segment_survey.graph import graph as segment_survey
    from runtime.errors import ServiceError
    from runtime.services import Services
    from use_cases.twin.survey import run_survey

    try:
        request = _survey_request(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.server:
        if args.model:
            print("error: --model: a server surveys with its own CHAT_MODEL", file=sys.stderr)
            return 2
        try:
            result: Any = await _survey_on_server(args, request)
        except JobFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        _show_survey(result, args.json)
        return 0
    settings = get_settings()
    model = args.model or settings.chat_model
    services = await Services.acreate(settings)
    try:
        print("Starting the database, the model and the embeddings...", file=sys.stderr, flush=True)
        await services.start(with_model=True, with_embeddings=True)
        with _progress_bar("Surveying", args.quiet) as progress:
            method = cast("dict[str, Any]", request).pop("method")
            result = await run_survey(
                services,
                segment_survey,
                request,
                model,
                method=method,
                max_concurrency=args.concurrency,
                progress=progress,
            )
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await services.stop()
    _show_survey(dict(result), args.json)
    return 0


def _show_survey(result: dict[str, Any], as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        _print_survey(result)


async def _validate(args: argparse.Namespace) -> int:
    import json

    from runtime.services import Services
    from use_cases.twin.fidelity import FidelityError, held_out_schema, report_json, validate_twins
    from use_cases.twin.fidelity_report import render_html
    from use_cases.twin.record_table import read_record_table
    from use_cases.twin.segments.model import NoWeight, TooFewRecords, check_clustering

    table = await asyncio.to_thread(
        read_record_table,
        Path(args.records),
        Path(args.schema) if args.schema else None,
        Path(args.codebook) if args.codebook else None,
    )
    for note in table.notes:
        _say(f"note: {note}")
    hold_out = [c.strip() for c in args.hold_out.split(",") if c.strip()]
    try:  # what can be refused is refused before the model starts
        held_out_schema(table.schema, hold_out)
        check_clustering(len(table.records), args.clusters, sum(r.weight for r in table.records))
    except (FidelityError, TooFewRecords, NoWeight) as exc:
        print(f"error: {str(exc).rstrip('.')}.", file=sys.stderr)
        return 2
    settings = get_settings()
    model = args.model or settings.chat_model
    services = await Services.acreate(settings)
    try:
        print("Starting the model...", file=sys.stderr, flush=True)
        await services.start(with_model=True, with_embeddings=True)
        with _progress_bar("Asking the twins", args.quiet) as progress:
            segments, results = await validate_twins(
                table,
                hold_out,
                args.clusters,
                model,
                seed=args.seed,
                settings=settings,
                concurrency=max(1, args.concurrency),
                method=args.method,
                embeddings=services.require_embeddings(),
                progress=progress,
                say=None if args.quiet else _say,
            )
    except FidelityError as exc:
        print(f"error: {exc}.", file=sys.stderr)
        return 2
    finally:
        await services.stop()
    meta = {
        "records": len(table.records),
        "clusters": args.clusters,
        "model": model,
        "seed": args.seed,
        "method": args.method,
    }
    report = report_json(results, meta)
    for question in report["questions"]:
        tvd, accuracy = question["mean_tvd"], question["mean_accuracy"]
        print(f"{question['column']}: {question['question']}")
        print("  mean TVD  " + "  ".join(f"{kind} {value}" for kind, value in tvd.items()))
        print("  accuracy  " + "  ".join(f"{kind} {value}" for kind, value in accuracy.items()))
    if args.report:
        folder = Path(args.report)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread((folder / "fidelity.json").write_text, json.dumps(report, indent=1), "utf-8")
        await asyncio.to_thread((folder / "fidelity.html").write_text, render_html(report), "utf-8")
        print(f"Report: {folder / 'fidelity.html'} and {folder / 'fidelity.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    twin = subparsers.add_parser("twin", help="segment twins: build, import, demo")
    sub = twin.add_subparsers(dest="twin_command", required=True)
    build = sub.add_parser("build", help="cluster a CSV/Parquet table of people into segment twins and load them")
    build.add_argument("--records", required=True, help="CSV or Parquet file, one person a row")
    build.add_argument(
        "--schema",
        help="its record-schema/v1 JSON (see `personas twin schema`); without it the demo consumer "
        "table builds as before and any other table gets a drafted schema",
    )
    build.add_argument(
        "--codebook",
        help="the survey's codebook (JSON: labels, question wordings, answer options, roles) to draft "
        "the schema with, when --schema is left out",
    )
    build.add_argument("--clusters", type=int, required=True, help="number of clusters (K)")
    build.add_argument("--seed", type=int, default=7, help="clustering seed (default 7)")
    build.add_argument("--out", help="also write the built set as JSON (importable later)")
    build.set_defaults(run=_build)
    schema = sub.add_parser(
        "schema", help="draft a record-schema/v1 for a table (printed as JSON; the guesses go to stderr)"
    )
    schema.add_argument("--records", required=True, help="CSV or Parquet file, one person a row")
    schema.add_argument(
        "--codebook", help="the survey's codebook (JSON: labels, question wordings, answer options, roles)"
    )
    schema.set_defaults(run=_schema)
    validate = sub.add_parser(
        "validate",
        help="build twins without some columns, ask those columns' questions, and report how close the twins come",
        description="Per held-out question and cluster: accuracy of each twin against its own record and the "
        "TVD of the cluster's answers against its members', with the floor (the twins' own records) and the "
        "baselines (uniform, the whole table, the model without a record). Does not touch the stored twins.",
    )
    validate.add_argument("--records", required=True, help="CSV or Parquet file, one person a row")
    validate.add_argument("--schema", help="its record-schema/v1 JSON (drafted when left out)")
    validate.add_argument(
        "--codebook",
        help="the survey's codebook (JSON: labels, question wordings, answer options, roles) to draft "
        "the schema with, when --schema is left out",
    )
    validate.add_argument("--clusters", type=int, required=True, help="number of clusters (K)")
    validate.add_argument("--hold-out", required=True, help="columns to hide and ask, comma-separated")
    validate.add_argument("--report", help="folder for fidelity.html and fidelity.json")
    validate.add_argument("--model", help="provider:model answering for the twins (default CHAT_MODEL)")
    validate.add_argument("--seed", type=int, default=7, help="clustering and answer seed (default 7)")
    validate.add_argument(
        "--method",
        default="auto",
        choices=["auto", "option_likelihood", "label_logprobs", "ssr"],
        help="how an answer is read, as in `twin survey` (default auto)",
    )
    validate.add_argument("--concurrency", type=int, default=1, help="questions in flight at once (default 1)")
    validate.add_argument("--quiet", action="store_true", help="no progress output")
    validate.set_defaults(run=_validate)
    imp = sub.add_parser("import", help="load clusters and personas from a segment-set JSON file")
    imp.add_argument("file")
    imp.set_defaults(run=_import)
    demo = sub.add_parser("demo", help="load the bundled demo clusters and personas")
    demo.set_defaults(run=_demo)
    survey = sub.add_parser(
        "survey",
        help="ask the personas of some clusters a closed question (weighted answers, 95%% intervals)",
        description="Every persona picks exactly one option; shares weight each persona by the share of "
        "its cluster's records it stands for. Clusters: --cluster (repeat), or --query, or all.",
    )
    survey.add_argument("--question", required=True, help="the closed question")
    survey.add_argument("--option", action="append", help="one answer option (repeat: 2 to 10 distinct)")
    survey.add_argument("--cluster", type=int, action="append", help="a cluster id to ask (repeat)")
    survey.add_argument("--query", help="instead of --cluster: ask the clusters this description routes to")
    survey.add_argument("--top-k", type=int, default=3, help="with --query: how many clusters (default 3)")
    survey.add_argument("--samples", type=int, default=1, help="times each persona is asked (1 to 10, default 1)")
    survey.add_argument("--seed", type=int, default=0, help="fixes option orders and answers (default 0)")
    survey.add_argument("--keep-order", action="store_true", help="show the options in the given order to everyone")
    survey.add_argument(
        "--no-fact-check",
        action="store_true",
        help="keep options that contradict a persona's record (the model's answers as they come)",
    )
    survey.add_argument(
        "--weighting",
        default="raked",
        metavar="{raked,age_gender}",
        help="raked (default): personas weighed to every stored split of their cluster's records; "
        "age_gender: by their (gender, age band) cell only",
    )
    survey.add_argument(
        "--method",
        default="auto",
        choices=["auto", "option_likelihood", "label_logprobs", "ssr"],
        help="how an answer is read (default auto; ssr: the persona answers in its own words)",
    )
    survey.add_argument("--model", help="provider:model answering for the personas (default CHAT_MODEL)")
    survey.add_argument("--concurrency", type=int, default=0, help="answers in flight at once (0 = automatic)")
    survey.add_argument(
        "--server",
        metavar="URL",
        help="run the survey as a job of a running server: its Twin API's base URL (e.g. http://127.0.0.1:8000/twin); "
        "Ctrl-C cancels the job",
    )
    survey.add_argument("--api-key", help="with --server: the server's TWIN_API_KEY (default: $TWIN_API_KEY)")
    survey.add_argument("--json", action="store_true", help="print the result as the REST API returns it")
    survey.add_argument("--quiet", action="store_true", help="no progress bar")
    survey.set_defaults(run=_survey)


if __name__ == "__main__":  # pragma: no cover
    from server.cli.main import main

    sys.exit(main(["twin", *sys.argv[1:]]))
