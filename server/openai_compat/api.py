"""Routes of the OpenAI-compatible mount. Each parses a typed request, calls one use case in
`use_cases.openai_compat` and shapes OpenAI's response; failures are answered in OpenAI's error
shape by the router's route class (`errors.OpenAIRoute`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from runtime.services import Services
from server.openai_compat.auth import CallerDep
from server.openai_compat.errors import OpenAIRoute, openai_error_responses
from server.openai_compat.schemas import ChatCompletion, ChatCompletionRequest, ModelCard, ModelList
from server.openai_compat.sse import CompletionStream
from use_cases import openai_compat

# Every route needs a credential (401) and may find the database or the service busy (503).
router = APIRouter(route_class=OpenAIRoute, responses=openai_error_responses(401, 503, "4XX"))


def _services(request: Request) -> Services:
    return request.app.state.services


@router.get("/models", response_model=ModelList, summary="Every persona this API key may chat with, as a model")
async def list_models(request: Request, caller: CallerDep) -> ModelList:
    models = await openai_compat.list_models(_services(request), caller)
    return ModelList(data=[ModelCard.of(m) for m in models])


@router.get(
    "/models/{model:path}",
    response_model=ModelCard,
    responses=openai_error_responses(403, 404),
    summary="One model of GET /models",
)
async def retrieve_model(
    request: Request, model: Annotated[str, Path(description="A model id, e.g. studio/12")], caller: CallerDep
) -> ModelCard:
    return ModelCard.of(await openai_compat.find_model(_services(request), caller, model))


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        **openai_error_responses(400, 403, 404, 429, 502),
        200: {
            "description": "`stream` false: a `chat.completion`. `stream` true: `text/event-stream` of "
            "`chat.completion.chunk` events, then `data: [DONE]`.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
    },
    summary="The persona's reply to the conversation's last user message",
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, caller: CallerDep
) -> ChatCompletion | Response:
    turn = await openai_compat.start_completion(_services(request), caller, body.to_request())
    if body.stream:
        return CompletionStream(turn, body.model, body.include_usage)
    return ChatCompletion.of(body.model, await turn.complete())
