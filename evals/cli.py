"""`personas eval list | run SUITE | compare RUN_A RUN_B`."""

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
    from evals.langsmith_upload import upload_run
    from evals.runner import parse_prompt_overrides, print_run, run_suite, runs_dir

    prompts = parse_prompt_overrides(args.prompt)
    for noisy in ("httpx", "httpx2", "sentence_transformers", "numexpr.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    record = await run_suite(
        args.suite,
        model=args.model,
        prompts=prompts,
        limit=args.limit,
        judge_model=args.judge_model,
        max_tokens=args.max_tokens,
        out_dir=args.runs_dir,
    )
    print_run(record, runs_dir(args.runs_dir) / record["run_id"])
    try:
        experiment = upload_run(record)
    except Exception as exc:  # the run is saved locally either way
        print(f"warning: LangSmith upload failed ({type(exc).__name__}: {exc})", file=sys.stderr)
    else:
        if experiment:
            print(f"uploaded to LangSmith as experiment {experiment}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from evals.compare import compare_runs, text_report, write_html
    from evals.runner import load_run, runs_dir

    a, b = load_run(args.run_a, args.runs_dir), load_run(args.run_b, args.runs_dir)
    if a["suite"] != b["suite"]:
        raise ConfigError(f"Runs of different suites cannot be compared ({a['suite']} vs {b['suite']}).")
    comparison = compare_runs(a, b)
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
    run.set_defaults(run=_run)
    compare = sub.add_parser("compare", help="compare two saved runs (deltas, changed examples, HTML)")
    compare.add_argument("run_a")
    compare.add_argument("run_b")
    compare.add_argument("--html", help="where to write the HTML report")
    compare.add_argument("--runs-dir")
    compare.set_defaults(run=_compare)
