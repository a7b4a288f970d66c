"""llama-cpp-python's OpenAI-compatible server with one route of ours: `POST /extras/option_scores`.

Run as `python -m runtime.llama_server` with llama_cpp.server's own arguments. Every route of
the library's server is unchanged; the added route shares its model and its lock, so requests
still run one at a time. It takes `{"messages": [...], "options": ["Own", "Rent"]}` and answers
each option's log-probability as the assistant's reply, from one evaluation of the prompt
(see runtime.option_scoring).
"""

from __future__ import annotations

import argparse
import os
from typing import Any, cast

import uvicorn
from fastapi import APIRouter, Depends, HTTPException
from llama_cpp.server.app import create_app, get_llama_proxy
from llama_cpp.server.cli import add_args_from_model, parse_model_from_args
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.settings import ModelSettings, ServerSettings, Settings
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from runtime.local_llm import OPTION_SCORES_PATH
from runtime.option_scoring import score_options


class OptionScoresRequest(BaseModel):
    messages: list[dict[str, Any]] = Field(min_length=1)
    options: list[str] = Field(min_length=1, max_length=32)
    model: str | None = None


router = APIRouter()


@router.post(OPTION_SCORES_PATH)
async def option_scores(
    body: OptionScoresRequest, llama_proxy: LlamaProxy = Depends(get_llama_proxy)
) -> dict[str, Any]:
    if any(not option for option in body.options):
        raise HTTPException(status_code=400, detail="Every option must be non-empty text.")
    llama = llama_proxy(body.model)
    try:
        result = await run_in_threadpool(score_options, llama, body.messages, body.options)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    return {
        "scores": [{"tokens": s.tokens, "logprob": s.logprob} for s in result.scores],
        "usage": {"prompt_tokens": result.prompt_tokens, "evaluated_tokens": result.evaluated_tokens},
        "timings": {"prompt_seconds": result.prompt_seconds, "options_seconds": result.options_seconds},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_args_from_model(parser, Settings)
    args = parser.parse_args()
    # the library's parser is typed as returning the class; it returns an instance
    server_settings = cast(ServerSettings, parse_model_from_args(ServerSettings, args))
    model_settings = cast(ModelSettings, parse_model_from_args(ModelSettings, args))
    app = create_app(server_settings=server_settings, model_settings=[model_settings])
    app.include_router(router)
    uvicorn.run(app, host=os.getenv("HOST", server_settings.host), port=int(os.getenv("PORT", server_settings.port)))


if __name__ == "__main__":
    main()
