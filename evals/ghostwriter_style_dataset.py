"""Builds `evals/datasets/ghostwriter_style.jsonl` from the bundled sample accounts.

One row per account per prompt: the persona (built from the account's other
posts) writes a post for the prompt, and the eval scores it against the
account's held-out posts and against other accounts' posts. The held-out split
is the same for every prompt of an account, so the persona never saw them.
Regenerate with `python -m evals.ghostwriter_style_dataset`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypedDict

from tools.engagement import split_holdout
from use_cases.ghostwriter.sample_accounts import SampleAccount, load_sample_accounts

DATASET_PATH = Path(__file__).parent / "datasets" / "ghostwriter_style.jsonl"
HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 7

# Two prompts are shared by every account, so outputs can be compared on the
# same subject; the rest fit the account's usual subjects.
_SHARED_PROMPTS = ("Write a post about remote work", "Write a post about your morning coffee")
PROMPTS: dict[str, tuple[str, ...]] = {
    "moonbag_mia": (
        "Write a post about bitcoin hitting a new all-time high",
        "Write a post about a rough week for altcoins",
        "Write a post about a friend asking what a memecoin is",
        "Write a post about taking profits",
    ),
    "policyledger": (
        "Write a post about a new housing affordability report",
        "Write a post about the latest inflation figures",
        "Write a post about a proposed change to the pension system",
        "Write a post about AI adoption in public services",
    ),
    "maxhypehq": (
        "Write a post about launching a new online course",
        "Write a post about hitting a follower milestone",
        "Write a post about a last-chance discount",
        "Write a post about why storytelling sells",
    ),
    "kfoldr": (
        "Write a post about fixing a flaky test",
        "Write a post about a new release of your open-source library",
        "Write a post about a slow database query",
        "Write a post about code review etiquette",
    ),
    "risewithjordan": (
        "Write a post about building discipline",
        "Write a post about starting a thread on lessons from failure",
        "Write a post about morning routines",
        "Write a post about saying no to distractions",
    ),
    "section112rick": (
        "Write a post about your team losing a late lead",
        "Write a post about a controversial referee decision",
        "Write a post about a star player getting injured again",
        "Write a post about ticket prices going up",
    ),
}


class StyleEvalRow(TypedDict):
    account_id: str
    handle: str
    prompt: str
    heldout_post_ids: list[str]


def build_rows(accounts: list[SampleAccount]) -> list[StyleEvalRow]:
    rows: list[StyleEvalRow] = []
    for account in accounts:
        heldout = split_holdout(account["posts"], HOLDOUT_FRACTION, HOLDOUT_SEED).heldout
        ids = [post["id"] for post in heldout]
        for prompt in PROMPTS[account["handle"]] + _SHARED_PROMPTS:
            rows.append(
                StyleEvalRow(
                    account_id=account["account_id"],
                    handle=account["handle"],
                    prompt=prompt,
                    heldout_post_ids=ids,
                )
            )
    return rows


def render_dataset(accounts: list[SampleAccount] | None = None) -> str:
    """The exact text of the JSONL file for `accounts` (default: the bundled sample)."""
    rows = build_rows(load_sample_accounts() if accounts is None else accounts)
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main() -> None:
    DATASET_PATH.write_text(render_dataset(), encoding="utf-8")
    print(f"wrote {DATASET_PATH}")


if __name__ == "__main__":
    main()
