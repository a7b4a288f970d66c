"""Ghostwriter style eval: is each persona's writing closer to its own account than to the others?

For every account of `evals/datasets/ghostwriter_style.jsonl`: build the persona from the
account's posts minus the held-out ones (the persona_builder steps: engagement-weighted
exemplars, style analysis, drafted prompt), generate one post per dataset prompt, then
score the generated posts with `tools.style_similarity` against the account's held-out
posts ("own") and against every other account's held-out posts ("others").

    python -m evals.ghostwriter_style                  # the real local model (SmolLM2)
    python -m evals.ghostwriter_style --model openai:gpt-4.1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

from langgraph.runtime import Runtime

from evals.ghostwriter_style_dataset import DATASET_PATH
from graphs.persona_builder.context import BuilderContext
from graphs.persona_builder.nodes import EXEMPLARS, SEED, analyse_style, draft_prompt
from graphs.persona_builder.post_writing import voice_examples, write_post
from graphs.persona_builder.state import BuilderState
from runtime.models import make_chat_model, parse_model_name, set_local_base_url
from runtime.services import current_settings
from tools.engagement import pick_exemplars
from tools.style_similarity import style_similarity
from use_cases.ghostwriter.sample_accounts import load_sample_accounts


async def persona_prompt(
    account: Mapping[str, Any], train: Sequence[Mapping[str, Any]], model: str
) -> tuple[str, list[str]]:
    """The drafted system prompt and the voice examples, as the builder makes them."""
    runtime = cast(Runtime[BuilderContext], SimpleNamespace(context=BuilderContext(model=model)))
    posts = [dict(p) for p in train]
    state = cast(
        BuilderState,
        {
            "account": dict(account),
            "posts": posts,
            "train": posts,
            "heldout": [],
            "exemplars": pick_exemplars(posts, EXEMPLARS, SEED),
            "previous": None,
        },
    )
    state.update(await analyse_style(state, runtime))  # type: ignore[typeddict-item]
    return draft_prompt(state)["system_prompt"], voice_examples(state["exemplars"])


async def run(model_name: str, max_tokens: int, prompts: int = 0) -> dict[str, Any]:
    rows = [json.loads(line) for line in DATASET_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    accounts = {a["account_id"]: a for a in load_sample_accounts()}
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not prompts or len(by_account[row["account_id"]]) < prompts:
            by_account[row["account_id"]].append(row)
    heldout: dict[str, list[str]] = {}
    generated: dict[str, list[str]] = {}
    copies: dict[str, int] = {}  # generated posts that repeat one of the account's posts verbatim
    model = make_chat_model(model_name, temperature=0.7, max_tokens=max_tokens, settings=current_settings())
    for account_id, account_rows in by_account.items():
        account = accounts[account_id]
        held_ids = set(account_rows[0]["heldout_post_ids"])
        train = [p for p in account["posts"] if p["id"] not in held_ids]
        heldout[account_id] = [p["text"] for p in account["posts"] if p["id"] in held_ids]
        profile = {"id": account_id, "handle": account["handle"], "display_name": account["display_name"]}
        system, examples = await persona_prompt(profile, train, model_name)
        outputs = []
        for row in account_rows:
            outputs.append(await write_post(model, system, examples, row["prompt"]) or "(empty)")
        generated[account_id] = outputs
        own_posts = {p["text"].strip().lower() for p in account["posts"]}
        copies[account_id] = sum(1 for text in outputs if text.lower() in own_posts)
    results = []
    for account_id, outputs in generated.items():
        own = style_similarity(outputs, heldout[account_id]).combined
        others = {
            accounts[o]["handle"]: style_similarity(outputs, heldout[o]).combined for o in heldout if o != account_id
        }
        best_handle, best = max(others.items(), key=lambda kv: kv[1])
        results.append(
            {
                "handle": accounts[account_id]["handle"],
                "own": own,
                "others_mean": statistics.fmean(others.values()),
                "best_other": best,
                "best_other_handle": best_handle,
                "closer_to_own": own > best,
                "verbatim_copies": copies[account_id],
                "generated": len(outputs),
            }
        )
    return {
        "model": model_name,
        "results": results,
        "closer": sum(r["closer_to_own"] for r in results),
        "accounts": len(results),
    }


def print_report(report: dict[str, Any]) -> None:
    print(f"ghostwriter style eval, model {report['model']}")
    print(f"{'account':<16} {'own':>6} {'others':>7} {'best other':>11}  {'(who)':<16} closer  copies")
    for r in report["results"]:
        print(
            f"{r['handle']:<16} {r['own']:6.3f} {r['others_mean']:7.3f} {r['best_other']:11.3f}  "
            f"{r['best_other_handle']:<16} {'yes' if r['closer_to_own'] else 'NO':<6}  "
            f"{r['verbatim_copies']}/{r['generated']}"
        )
    print(f"closer to own account than to every other: {report['closer']}/{report['accounts']}")
    print("copies: generated posts that repeat one of the account's own posts word for word")


async def main_async(args: argparse.Namespace) -> int:
    server = None
    if parse_model_name(args.model).provider == "local":
        from runtime.local_llm import LocalLLMServer

        server = LocalLLMServer(threads=2, context=2048)
        set_local_base_url(await asyncio.to_thread(server.start))
    try:
        print_report(await run(args.model, args.max_tokens, args.prompts))
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local:smollm2")
    parser.add_argument("--max-tokens", type=int, default=80)
    parser.add_argument("--prompts", type=int, default=0, help="prompts per account (0 = all)")
    raise SystemExit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
