"""Run one eval suite: progress bar, metric table with 95% CIs, JSON + Markdown report.

Results are saved under `<runs_dir>/<run_id>/` (`results.json`, `report.md`);
`runs_dir` is `evals/runs/` unless `EVAL_RUNS_DIR` or `--runs-dir` says otherwise.
`--prompt NAME=FILE` replaces `prompts/NAME.txt` for this run only. A `local:*`
model (or judge) starts the bundled llama.cpp server for the run and stops it after.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evals.metrics import MetricSummary, summarize_all
from evals.suites import RunOptions, Suite, get_suite
from runtime.errors import ConfigError

DEFAULT_RUNS_DIR = Path(__file__).parent / "runs"


def runs_dir(override: str | Path | None = None) -> Path:
    return Path(override or os.environ.get("EVAL_RUNS_DIR") or DEFAULT_RUNS_DIR)


def parse_prompt_overrides(items: list[str] | None) -> dict[str, Path]:
    """["persona_chat_system=variant.txt"] -> {"persona_chat_system": Path("variant.txt")}."""
    from prompts import load_prompt

    overrides: dict[str, Path] = {}
    for item in items or []:
        name, sep, file = item.partition("=")
        name = name.strip().removesuffix(".txt")
        if not sep or not name or not file.strip():
            raise ConfigError(f"--prompt takes NAME=FILE (for example persona_chat_system=variant.txt), got {item!r}.")
        try:
            load_prompt(name)
        except KeyError:
            raise ConfigError(f"--prompt {item!r}: there is no prompt named {name!r} in prompts/.") from None
        path = Path(file.strip())
        if not path.is_file():
            raise ConfigError(f"--prompt {item!r}: the file {path} does not exist.")
        overrides[name] = path
    return overrides


@contextmanager
def local_model_server(*models: str) -> Iterator[None]:
    """Start the bundled llama.cpp server when one of `models` is `local:*` and none is running."""
    from runtime.models import local_base_url, parse_model_name, set_local_base_url

    wanted = any(m and parse_model_name(m).provider == "local" for m in models)
    if not wanted or local_base_url() is not None:
        yield
        return
    from runtime.services import local_llm_server
    from runtime.settings import get_settings

    server = local_llm_server(get_settings())
    print("Starting the local model server...", file=sys.stderr, flush=True)
    set_local_base_url(server.start())
    try:
        yield
    finally:
        set_local_base_url(None)
        server.stop()


def _new_run_id(suite: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{suite}-{uuid.uuid4().hex[:4]}"


async def collect(suite: Suite, options: RunOptions, *, progress: bool = True) -> list[dict[str, Any]]:
    from tqdm import tqdm

    total = min(options.limit, suite.size) if options.limit else suite.size
    examples: list[dict[str, Any]] = []
    with tqdm(total=total, desc=suite.name, unit="ex", disable=not progress, file=sys.stderr) as bar:
        async for result in suite.run(options):
            examples.append(dataclasses.asdict(result))
            bar.update(1)
    return examples


async def run_suite(
    name: str,
    *,
    model: str | None = None,
    prompts: Mapping[str, Path] | None = None,
    limit: int | None = None,
    judge_model: str | None = None,
    max_tokens: int = 160,
    out_dir: str | Path | None = None,
    progress: bool = True,
    persona: str | None = None,
) -> dict[str, Any]:
    """Run suite `name` and save its record; return the record (see `save_run`). `persona`
    (`KIND:ID[@VERSION]`) runs it against that stored persona version, with the version's own
    model unless `model` is given."""
    from prompts import override_prompts
    from runtime.models import parse_model_name
    from runtime.settings import get_settings

    suite = get_suite(name)
    if limit is not None and limit < 1:
        raise ConfigError("--limit must be at least 1.")
    target = await _persona_target(suite, persona) if persona else None
    model_name = "" if suite.offline else (model or (target.model if target else None) or get_settings().chat_model)
    for m in (model_name, judge_model):
        if m:
            parse_model_name(m)
    texts = {n: p.read_text(encoding="utf-8") for n, p in (prompts or {}).items()}
    with local_model_server(model_name, judge_model or ""):
        judge = None
        if judge_model:
            from evals.evaluators.judge import Judge

            judge = Judge(judge_model)
        options = RunOptions(model=model_name, limit=limit, max_tokens=max_tokens, judge=judge, persona=target)
        with override_prompts(texts):
            examples = await collect(suite, options, progress=progress)
    summary = summarize_all(e["metrics"] for e in examples)
    record = {
        "run_id": _new_run_id(name),
        "suite": name,
        "persona": target.record() if target else None,
        "offline": suite.offline,
        "model": model_name or None,
        "judge_model": judge_model,
        "limit": limit,
        "max_tokens": max_tokens,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "prompts": {
            n: {"file": str(p), "sha256": hashlib.sha256(texts[n].encode()).hexdigest()[:12]}
            for n, p in (prompts or {}).items()
        },
        # a persona without facts has no fact_consistent: its first metric leads instead
        "primary_metric": suite.primary_metric
        if suite.primary_metric in summary or not summary
        else next(iter(summary)),
        "summary": {k: v.model_dump() for k, v in summary.items()},
        "examples": examples,
    }
    save_run(record, out_dir)
    return record


async def _persona_target(suite: Suite, ref: str) -> Any:
    from evals.persona_target import load_target, parse_ref
    from evals.suites import SUITES

    if not suite.persona_kinds:
        usable = ", ".join(n for n, s in SUITES.items() if s.persona_kinds)
        raise ConfigError(f"--persona works with the suites {usable}; {suite.name} brings its own personas.")
    kind = parse_ref(ref)[0]
    if kind not in suite.persona_kinds:
        raise ConfigError(f"{suite.name} takes a --persona of kind {' or '.join(suite.persona_kinds)}, not {kind}.")
    return await load_target(ref)


def save_run(record: dict[str, Any], out_dir: str | Path | None = None) -> Path:
    folder = runs_dir(out_dir) / record["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    (folder / "report.md").write_text(markdown_report(record), encoding="utf-8")
    return folder


def load_run(ref: str | Path, out_dir: str | Path | None = None) -> dict[str, Any]:
    """A saved run by id (under the runs folder) or by a path to its folder or results.json."""
    path = Path(ref)
    candidates = [path / "results.json" if path.is_dir() else path, runs_dir(out_dir) / str(ref) / "results.json"]
    for candidate in candidates:
        if candidate.is_file() and candidate.name == "results.json":
            return json.loads(candidate.read_text(encoding="utf-8"))
    raise ConfigError(f"No saved eval run {str(ref)!r} (looked in {runs_dir(out_dir)}).")


def metric_table(summary: Mapping[str, Any]) -> str:
    rows = [MetricSummary.model_validate(v) for v in summary.values()]
    width = max([len("metric"), *(len(r.name) for r in rows)])
    lines = [f"{'metric':<{width}}  {'mean':>7}  {'95% CI':>17}  {'n':>4}  method", "-" * (width + 44)]
    for r in rows:
        lines.append(f"{r.name:<{width}}  {r.mean:7.3f}  [{r.low:6.3f}, {r.high:6.3f}]  {r.n:4d}  {r.method}")
    return "\n".join(lines)


def _describe(record: Mapping[str, Any]) -> str:
    prompts = ", ".join(f"{n}={p['file']}" for n, p in record["prompts"].items()) or "defaults"
    persona = record.get("persona")
    return (
        f"run {record['run_id']}: suite {record['suite']}, model {record['model'] or '-'}, "
        + (f"persona {persona['ref']} ({persona['name']}), " if persona else "")
        + f"prompts {prompts}, {len(record['examples'])} examples"
    )


def markdown_report(record: Mapping[str, Any]) -> str:
    prompts = ", ".join(f"`{n}` = {p['file']} ({p['sha256']})" for n, p in record["prompts"].items())
    lines = [
        f"# Eval run {record['run_id']}",
        "",
        f"- suite: `{record['suite']}`",
        f"- model: `{record['model'] or '-'}`",
        *([f"- persona: `{record['persona']['ref']}` ({record['persona']['name']})"] if record.get("persona") else []),
        f"- judge: `{record['judge_model'] or '-'}`",
        f"- created: {record['created_at']}",
        f"- prompts: {prompts or 'defaults'}",
        f"- examples: {len(record['examples'])}",
        "",
        "| metric | mean | 95% CI | n | method |",
        "| --- | ---: | --- | ---: | --- |",
    ]
    for s in record["summary"].values():
        lines.append(
            f"| {s['name']} | {s['mean']:.3f} | [{s['low']:.3f}, {s['high']:.3f}] | {s['n']} | {s['method']} |"
        )
    lines += [
        "",
        "Intervals: Wilson score for 0/1 metrics, seeded percentile bootstrap of the mean otherwise.",
        "",
        "## Examples",
        "",
        "| id | " + record["primary_metric"] + " | output |",
        "| --- | ---: | --- |",
    ]
    for ex in record["examples"]:
        value = ex["metrics"].get(record["primary_metric"])
        shown = "-" if value is None else f"{value:.3f}"
        text = json.dumps(ex["output"], ensure_ascii=False) if not isinstance(ex["output"], str) else ex["output"]
        text = text.replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(f"| {ex['id']} | {shown} | {text} |")
    return "\n".join(lines) + "\n"


def print_run(record: Mapping[str, Any], folder: Path | None = None) -> None:
    print(_describe(record))
    print(metric_table(record["summary"]))
    if folder is not None:
        print(f"saved: {folder / 'results.json'} and report.md")
