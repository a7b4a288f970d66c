"""LLM-as-judge: persona adherence, groundedness in references, helpfulness.

Runs only when a judge model is configured (`--judge-model provider:model`).
openevals is not installed here, so this is a small judge of our own: one
LangChain structured-output call per criterion, with the prompt from
`prompts/eval_judge_<criterion>.txt`; everything judged is a quoted value in the
template, never template text. A 1-5 score becomes a metric in [0, 1]:
`judge_<criterion> = (score - 1) / 4`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from prompts import render_prompt
from runtime.models import make_chat_model
from runtime.services import current_settings

CRITERIA = ("persona", "grounded", "helpful")


class JudgeVerdict(BaseModel):
    """The judge's grade of one reply on one criterion."""

    score: int = Field(ge=1, le=5, description="1 (bad) to 5 (excellent)")
    reasoning: str = Field(description="one sentence")


class Judge:
    """Grades replies with `model` ("provider:model") at temperature 0."""

    def __init__(self, model: str):
        self.model_name = model
        chat_model = make_chat_model(model, temperature=0.0, max_tokens=300, settings=current_settings())
        self._model = chat_model.with_structured_output(JudgeVerdict)

    async def grade(self, criterion: str, **values: Any) -> JudgeVerdict:
        if criterion not in CRITERIA:
            raise ValueError(f"Unknown judge criterion {criterion!r}; known: {', '.join(CRITERIA)}")
        prompt = render_prompt(f"eval_judge_{criterion}", **values)
        verdict = await self._model.ainvoke(prompt)
        return verdict if isinstance(verdict, JudgeVerdict) else JudgeVerdict.model_validate(verdict)

    async def metrics(
        self, *, question: str, reply: str, persona: str = "", references: str | None = None
    ) -> tuple[dict[str, float], dict[str, str]]:
        """Scores for the criteria that apply (groundedness only with references),
        and each verdict's reasoning."""
        scores: dict[str, float] = {}
        notes: dict[str, str] = {}
        wanted = [c for c in CRITERIA if c != "grounded" or references]
        for criterion in wanted:
            verdict = await self.grade(
                criterion, question=question, reply=reply, persona=persona, references=references or ""
            )
            scores[f"judge_{criterion}"] = (verdict.score - 1) / 4
            notes[f"judge_{criterion}"] = verdict.reasoning
        return scores, notes
