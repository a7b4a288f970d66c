"""Chat-model factory: models are named `provider:model`.

Providers: `local` (the llama.cpp server this service starts), `openai` (or any
OpenAI-compatible URL through OPENAI_BASE_URL), `google_vertexai` (alias
`vertex`). Tests and plug-ins add providers with `register_chat_provider`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel

from runtime.errors import ConfigError
from runtime.settings import Settings

PROVIDER_ALIASES = {"vertex": "google_vertexai", "vertexai": "google_vertexai", "google": "google_vertexai"}


class ChatModelBuilder(Protocol):
    def __call__(
        self, model: str, *, temperature: float | None, max_tokens: int | None, settings: Settings
    ) -> BaseChatModel: ...


@dataclass(frozen=True)
class ModelName:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


_builders: dict[str, ChatModelBuilder] = {}
_local_base_url: str | None = None


def register_chat_provider(provider: str, builder: ChatModelBuilder) -> None:
    _builders[provider] = builder


def unregister_chat_provider(provider: str) -> None:
    _builders.pop(provider, None)


def set_local_base_url(url: str | None) -> None:
    """Where the running local llama.cpp server answers (set by its lifecycle)."""
    global _local_base_url
    _local_base_url = url


def local_base_url() -> str | None:
    return _local_base_url


def known_providers() -> list[str]:
    return sorted(_builders)


def parse_model_name(name: str) -> ModelName:
    provider, sep, model = (name or "").strip().partition(":")
    provider = PROVIDER_ALIASES.get(provider.lower(), provider.lower())
    if not sep or not provider or not model:
        raise ConfigError(
            f"Model name {name!r} is not of the form provider:model (for example local:smollm2 or openai:gpt-4.1)."
        )
    if provider not in _builders:
        raise ConfigError(
            f"Unknown model provider {provider!r} in {name!r}; known providers: {', '.join(known_providers())}."
        )
    return ModelName(provider, model)


def make_chat_model(
    name: str, *, settings: Settings, temperature: float | None = None, max_tokens: int | None = None
) -> BaseChatModel:
    """The chat model `name` (`provider:model`) as `settings` reach it: keys, base URLs, timeout."""
    parsed = parse_model_name(name)
    return _builders[parsed.provider](parsed.model, temperature=temperature, max_tokens=max_tokens, settings=settings)


@lru_cache(maxsize=64)
def _chat_openai(
    model: str,
    *,
    base_url: str | None,
    api_key: str,
    temperature: float | None,
    max_tokens: int | None,
    timeout: float,
    local: bool,
) -> BaseChatModel:
    """One ChatOpenAI per configuration, shared by every call with it.

    The model object holds no per-call state, and a new one costs about a third of a
    millisecond before its first token: pydantic validation, an OpenAI client, and LangChain
    serialising the object for its callbacks on first use. Every chat turn would pay that twice.
    """
    from langchain_openai import ChatOpenAI

    if local:
        # llama.cpp's server reads `max_tokens`, not `max_completion_tokens` that newer
        # langchain-openai sends, so the cap goes through extra_body as well.
        extra = {"max_tokens": max_tokens} if max_tokens else None
        options: dict[str, Any] = {"extra_body": extra, "max_retries": 0}
    else:
        options = {"stream_usage": True}
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=api_key,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=timeout,
        **options,
    )


def _build_local(model: str, *, temperature: float | None, max_tokens: int | None, settings: Settings) -> BaseChatModel:
    url = _local_base_url
    if url is None:
        raise ConfigError(
            "The local model server is not running: start the service with `personas serve`, "
            "or await `runtime.services.ensure_services()` before building the model."
        )
    return _chat_openai(
        model,
        base_url=url,
        api_key="local",
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=settings.model_timeout,
        local=True,
    )


def _build_openai(
    model: str, *, temperature: float | None, max_tokens: int | None, settings: Settings
) -> BaseChatModel:
    _check_openai(model, settings)
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    return _chat_openai(
        model,
        base_url=settings.openai_base_url,
        api_key=key,
        temperature=temperature,
        max_tokens=max_tokens,
        timeout=settings.model_timeout,
        local=False,
    )


# The Vertex AI SDK's own default region when none is configured (aiplatform's DEFAULT_REGION).
VERTEX_DEFAULT_LOCATION = "us-central1"


def vertex_location(settings: Settings) -> str:
    """GOOGLE_CLOUD_LOCATION, else the region variables the Vertex SDK reads, else its default."""
    return (
        settings.google_cloud_location
        or os.environ.get("GOOGLE_CLOUD_REGION")
        or os.environ.get("CLOUD_ML_REGION")
        or VERTEX_DEFAULT_LOCATION
    )


def _check_vertex(model: str, settings: Settings) -> None:
    if importlib.util.find_spec("langchain_google_vertexai") is None:
        raise ConfigError("google_vertexai models need the langchain-google-vertexai package.")
    if not settings.google_cloud_project:
        raise ConfigError(f"google_vertexai:{model} needs GOOGLE_CLOUD_PROJECT (the Google Cloud project id).")


def _build_vertex(
    model: str, *, temperature: float | None, max_tokens: int | None, settings: Settings
) -> BaseChatModel:
    _check_vertex(model, settings)
    from langchain_google_vertexai import ChatVertexAI

    return ChatVertexAI(
        model=model,
        temperature=temperature,
        max_output_tokens=max_tokens,
        project=settings.google_cloud_project,
        location=vertex_location(settings),
    )


def _check_openai(model: str, settings: Settings) -> None:
    if settings.openai_api_key is None and not settings.openai_base_url:
        raise ConfigError(f"openai:{model} needs OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server).")
    if settings.openai_base_url and not settings.openai_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"OPENAI_BASE_URL must be an http:// or https:// URL, not {settings.openai_base_url!r}.")


# What each provider needs from the settings, checked at start-up before anything is built.
_checks: dict[str, Callable[[str, Settings], None]] = {"openai": _check_openai, "google_vertexai": _check_vertex}


def check_chat_model(name: str, settings: Settings) -> ModelName:
    """The configured model's name, parsed, with its provider's settings checked: a missing key,
    project or package stops start-up with one sentence rather than failing on the first chat."""
    parsed = parse_model_name(name)
    check = _checks.get(parsed.provider)
    if check is not None:
        check(parsed.model, settings)
    return parsed


register_chat_provider("local", _build_local)
register_chat_provider("openai", _build_openai)
register_chat_provider("google_vertexai", _build_vertex)
