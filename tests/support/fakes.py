"""Scripted fake chat model for graph-logic tests (registered as provider `fake`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda
from pydantic import BaseModel

from runtime.models import register_chat_provider, unregister_chat_provider

Responder = Callable[[list[BaseMessage]], "str | AIMessage"]


class Script:
    """What the fake model answers: a queue of replies, or a function of the prompt."""

    def __init__(self, replies: list[str | AIMessage] | None = None, responder: Responder | None = None):
        self.replies = list(replies or [])
        self.responder = responder
        self.calls: list[list[BaseMessage]] = []

    def next_reply(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls.append(list(messages))
        if self.responder is not None:
            reply = self.responder(messages)
        elif self.replies:
            reply = self.replies.pop(0)
        else:
            raise AssertionError("the scripted model ran out of replies")
        if isinstance(reply, str):
            words = len(reply.split())
            return AIMessage(
                content=reply,
                usage_metadata={
                    "input_tokens": sum(len(str(m.content).split()) for m in messages),
                    "output_tokens": words,
                    "total_tokens": 0,
                },
            )
        return reply


class ScriptedChatModel(GenericFakeChatModel):
    """Streams its reply word by word; supports `bind_tools` and `with_structured_output`."""

    script: Any
    messages: Iterator[AIMessage | str] = iter(())

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.script.next_reply(messages))])

    def bind_tools(self, tools, **kwargs):
        return self

    def with_structured_output(self, schema, **kwargs):
        def parse(prompt) -> Any:
            messages = prompt.to_messages() if hasattr(prompt, "to_messages") else prompt
            if isinstance(messages, str):
                from langchain_core.messages import HumanMessage

                messages = [HumanMessage(messages)]
            data = json.loads(self.script.next_reply(messages).text)
            if isinstance(schema, type) and issubclass(schema, BaseModel):
                return schema.model_validate(data)
            return data

        return RunnableLambda(parse)


def install_fake_provider(script: Script) -> None:
    register_chat_provider("fake", lambda model, **kw: ScriptedChatModel(script=script))


def remove_fake_provider() -> None:
    unregister_chat_provider("fake")
