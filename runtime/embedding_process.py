"""The local embedding model in a process of its own.

Importing torch and transformers and loading MiniLM costs seconds of CPU, and in the
API process all of it holds the one GIL that the start-up's other work (importing the app,
setting up the database) needs too. In a child process the model loads on the other core
meanwhile, so a restart is healthy seconds sooner; later, the model's Python side (tokenising,
pooling) never competes with the event loop for the GIL. The child builds its model with
`runtime.embeddings.make_embeddings`, the same model an in-process load gives, so the vectors
are the same to the bit.

The child is a `concurrent.futures.ProcessPoolExecutor` of one spawned worker: a fresh
interpreter (forking a process that runs threads is unsafe), torn down by `close`; it also ends
when the API process dies, however that happens.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from langchain_core.embeddings import Embeddings

from runtime.errors import ConfigError

_model: Embeddings | None = None  # the child's model


def _exit_with_parent() -> None:
    """In the child: end when the API process ends, even by SIGKILL (the pool's own pipes tell
    a worker nothing while it waits for work)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _load(name: str, threads: int) -> None:
    """In the child: build the model and run it once (the first call pays torch's set-up)."""
    global _model
    _exit_with_parent()
    from runtime.embeddings import make_embeddings
    from runtime.settings import Settings

    _model = make_embeddings(name, Settings(_env_file=None))  # sets torch's environment before importing it
    if threads > 0:
        import torch

        torch.set_num_threads(threads)
    _model.embed_documents(["warm up"])


def _loaded() -> bool:
    return _model is not None


def _embed(texts: list[str]) -> list[list[float]]:
    assert _model is not None
    return _model.embed_documents(texts)


class ProcessEmbeddings(Embeddings):
    """`make_embeddings(name)` run in a child process; the child starts loading at once.
    `threads`: torch's CPU threads there (0: torch's default, one per core)."""

    queries_as_documents = True  # the child runs the local MiniLM (`runtime.minilm`)

    def __init__(self, name: str, *, threads: int = 0) -> None:
        self.name = name
        self._pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load,
            initargs=(name, threads),
        )
        self._loaded: Future[bool] = self._pool.submit(_loaded)

    def wait_loaded(self, timeout: float | None = None) -> ProcessEmbeddings:
        """Block until the model has loaded; a child that failed is a ConfigError (its traceback
        is on stderr)."""
        try:
            self._loaded.result(timeout)
        except BrokenProcessPool as exc:
            self._pool.shutdown(wait=False)
            raise ConfigError(
                f"The embedding model {self.name} could not load in its process (see the error above); "
                "EMBEDDING_PROCESS=false loads it in the API process."
            ) from exc
        return self

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._pool.submit(_embed, list(texts)).result()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def close(self) -> None:
        """End the child (what is queued is dropped) and wait for it, so its pipes and locks are
        released before the interpreter exits."""
        self._pool.shutdown(wait=True, cancel_futures=True)
