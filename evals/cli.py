"""`personas eval list | run SUITE [--persona KIND:ID@VERSION] | compare RUN_A RUN_B | compare
KIND:ID@A KIND:ID@B [--suite SUITE]` (runs the suite on both persona versions, then compares)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from runtime.errors import ConfigError


def _list(args: argparse.Namespace) -> int:
    from evals.suites import SUITES

    print(f"{'suite':<20} {'examples':>8}  {'offline':<7}  description")
    for suite in SUITES.values():
        print(f"{suite.name:<20} {suite.size:>8}  {'yes' if suite.offline else 'no':<7}  {suite.description}")
    return 0


async def _run(args: argparse.Namespace) -> int:
    from evals.runner import parse_prompt_overrides, print_run, run_suite, runs_dir

    prompts = parse_prompt_overrides(args.prompt)
    for noisy in ("httpx", "httpx2", "transformers", "numexpr.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    record = await run_suite(
        args.suite,
        model=args.model,
        prompts=prompts,
        limit=args.limit,
        judge_model=args.judge_model,
        max_tokens=args.max_tokens,
        out_dir=args.runs_dir,
        persona=args.persona,
    )
    print_run(record, runs_dir(args.runs_dir) / record["run_id"])
    _upload(record)
    return 0


def _upload(record: dict) -> None:
    from evals.langsmith_upload import upload_run

    try:
        experiment = upload_run(record)
    except Exception as exc:  # the run is saved locally either way
        print(f"warning: LangSmith upload failed ({type(exc).__name__}: {exc})", file=sys.stderr)
    else:
        if experiment:
            print(f"uploaded to LangSmith as experiment {experiment}")


async def _run_versions(args: argparse.Namespace) -> tuple[dict, dict]:
    """`compare KIND:ID@A KIND:ID@B`: one run of the suite per persona version."""
    from evals.runner import print_run, run_suite, runs_dir

    records = []
    for ref in (args.run_a, args.run_b):
        record = await run_suite(
            args.suite,
            model=args.model,
            limit=args.limit,
            judge_model=args.judge_model,
            max_tokens=args.max_tokens,
            out_dir=args.runs_dir,
            persona=ref,
        )
        print_run(record, runs_dir(args.runs_dir) / record["run_id"])
        print()
        _upload(record)
        records.append(record)
    return records[0], records[1]


def _compare(args: argparse.Namespace) -> int:
    import asyncio

    from evals.compare import compare_runs, text_report, write_html
    from evals.persona_target import is_persona_ref
    from evals.runner import load_run, runs_dir

    refs = [is_persona_ref(ref) for ref in (args.run_a, args.run_b)]
    if any(refs) and not all(refs):
        raise ConfigError("Compare two saved runs, or two persona versions (KIND:ID@VERSION), not one of each.")
    if all(refs):
        for noisy in ("httpx", "httpx2", "transformers", "numexpr.utils"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        a, b = asyncio.run(_run_versions(args))
    else:
        a, b = load_run(args.run_a, args.runs_dir), load_run(args.run_b, args.runs_dir)
    if a["suite"] != b["suite"]:
        raise ConfigError(f"Runs of different suites cannot be compared ({a['suite']} vs {b['suite']}).")
    comparison = compare_runs(a, b)
    for label, record in (("A", a), ("B", b)):
        if record.get("persona"):
            persona = record["persona"]
            print(f"{label}: persona {persona['ref']} ({persona['name']}), model {record['model'] or '-'}")
    print(text_report(comparison))
    out = Path(args.html) if args.html else runs_dir(args.runs_dir) / f"compare-{a['run_id']}-vs-{b['run_id']}.html"
    print(f"HTML report: {write_html(comparison, out)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("eval", help="eval suites for prompt engineers")
    sub = parser.add_subparsers(dest="eval_command", required=True)
    listing = sub.add_parser("list", help="list the suites and their data set sizes")
    listing.set_defaults(run=_list)
    run = sub.add_parser("run", help="run a suite and save its results")
    run.add_argument("suite")
    run.add_argument("--model", help="provider:model (default: CHAT_MODEL; offline suites use none)")
    run.add_argument(
        "--prompt",
        action="append",
        metavar="NAME=FILE",
        help="use FILE instead of prompts/NAME.txt for this run (repeatable)",
    )
    run.add_argument("--limit", type=int, help="only the first N examples")
    run.add_argument("--judge-model", help="provider:model of an LLM judge (off by default)")
    run.add_argument("--max-tokens", type=int, default=160, help="reply length cap for generated replies")
    run.add_argument("--runs-dir", help="where runs are saved (default evals/runs or EVAL_RUNS_DIR)")
    run.add_argument(
        "--persona",
        metavar="KIND:ID[@VERSION]",
        help="run against a stored persona version, e.g. studio:12@3 or ghostwriter:100000000002@2 "
        "(suites chat_in_character, ghostwriter_style); its own model unless --model",
    )
    run.set_defaults(run=_run)
    compare = sub.add_parser(
        "compare",
        help="compare two saved runs, or run a suite on two persona versions and compare them "
        "(deltas, changed examples, HTML)",
    )
    compare.add_argument("run_a", help="a run id (or folder), or a persona version KIND:ID@VERSION")
    compare.add_argument("run_b", help="a run id (or folder), or a persona version KIND:ID@VERSION")
    compare.add_argument("--html", help="where to write the HTML report")
    compare.add_argument("--runs-dir")
    versions = compare.add_argument_group("comparing two persona versions (the runs are saved too)")
    versions.add_argument("--suite", default="chat_in_character", help="the suite to run (default chat_in_character)")
    versions.add_argument("--model", help="provider:model (default: each version's own model, else CHAT_MODEL)")
    versions.add_argument("--limit", type=int, help="only the first N examples")
    versions.add_argument("--judge-model", help="provider:model of an LLM judge (off by default)")
    versions.add_argument("--max-tokens", type=int, default=160, help="reply length cap")
    compare.set_defaults(run=_compare)
