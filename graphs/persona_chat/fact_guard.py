"""The fact half of the guard: what a reply must be true to, the rewrite note that names what
it got wrong, and the choice among attempts when every rewrite still gets something wrong.

The `guard` node runs one loop for both halves: a draft with a prompt-injection finding or a
fact problem is written again (at most `MAX_REWRITES` times) with every finding named in one
note. This module keeps the fact rules in one place (`graphs/persona_chat/facts.py` holds the
checker the evals import).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from graphs.persona_chat.facts import (
    Contradiction,
    FactCheck,
    check_reply_facts,
    fact_statements,
    persona_facts,
    sentences,
)
from graphs.persona_chat.identity import is_identity_question, name_parts, name_problems, repair_name
from graphs.persona_chat.state import FactCheckRecord
from prompts import render_prompt

log = logging.getLogger(__name__)

MAX_REWRITES = 2  # a draft is written again at most this often
MIN_TRIMMED_WORDS = 4  # a reply cut down to its consistent sentences must keep this many words


@dataclass(frozen=True)
class FactJudge:
    """The checks of one turn: the persona's facts, its profile (for the character check), its
    name and whether the user asked who it is (`identity`)."""

    facts: Mapping[str, Any]
    profile: str
    name: str = ""
    asked_identity: bool = False

    def check(self, text: str) -> FactCheck:
        check = check_reply_facts(text, self.facts, self.profile)
        check.contradictions += [
            Contradiction("name", problem, "") for problem in name_problems(text, self.name, self.asked_identity)
        ]
        return check

    def repaired(self, text: str) -> str:
        """``text`` with its name problems repaired (`identity.repair_name`)."""
        return repair_name(text, self.name, self.asked_identity)

    def note(self, persona_name: str, check: FactCheck) -> str:
        """The rewrite note naming what the draft got wrong and the facts it must keep."""
        statements = ([f"your name is {self.name}"] if name_parts(self.name) else []) + fact_statements(self.facts)
        return render_prompt(
            "persona_chat_retry_facts",
            persona_name=persona_name,
            problems="; ".join(check.problems()),
            facts="; ".join(statements) if statements else "you are an ordinary person, not an assistant",
        )


def judge_for(persona: Mapping[str, Any] | None, profile: str, user_message: str = "") -> FactJudge:
    """The turn's judge; ``user_message`` (the message being answered) tells whether the user asked
    who the persona is."""
    return FactJudge(
        facts=persona_facts((persona or {}).get("attributes")),
        profile=profile,
        name=str((persona or {}).get("name") or ""),
        asked_identity=is_identity_question(user_message),
    )


def trimmed(text: str, check: FactCheck, judge: FactJudge) -> str:
    """`text` without the sentences that contradict a fact or break character, when enough is left
    and what is left passes; else ''."""
    bad = {c.sentence for c in check.contradictions}
    bad |= {s for s in sentences(text) if judge.check(s).character}
    kept = " ".join(s for s in sentences(text) if s not in bad)
    if len(re.findall(r"\w+", kept)) < MIN_TRIMMED_WORDS or not judge.check(kept).ok:
        return ""
    return kept


def best_attempt(attempts: Sequence[tuple[str, FactCheck]]) -> int:
    """Index of the attempt with the fewest problems (character breaks first); the earliest wins ties."""
    return min(range(len(attempts)), key=lambda i: (attempts[i][1].cost(), i))


def fact_record(judge: FactJudge, first: FactCheck, final: FactCheck, generations: int, action: str) -> FactCheckRecord:
    """The turn's fact-guard record (the graph's `fact_check` output): which facts were checked,
    how many replies were generated, the first draft's and the final reply's problems, what was
    done (`passed`, `regenerated`, `trimmed`, `repaired`, `kept_best`, `flagged`) and whether the final reply
    still has a problem (`flagged`)."""
    record: FactCheckRecord = {
        "facts": sorted(judge.facts),
        "generations": generations,
        "first": first.problems(),
        "final": final.problems(),
        # kinds of problem (a fact's kind, or "character"), so a caller can count without parsing text
        "first_kinds": [c.kind for c in first.contradictions] + ["character"] * len(first.character),
        "final_kinds": [c.kind for c in final.contradictions] + ["character"] * len(final.character),
        "action": action,
        "flagged": not final.ok,
    }
    if action != "passed":
        log.info(
            "fact guard: action=%s generations=%d first=%d final=%d",
            action,
            generations,
            len(first.problems()),
            len(final.problems()),
        )
    return record
