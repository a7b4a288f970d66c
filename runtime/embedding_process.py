"""The local embedding model in a process of its own.

Importing torch and transformers and loading MiniLM costs seconds of CPU, and in the
API process all of it holds the one GIL that the start-up's other work (importing the app,
setting up the database) needs too. In a child process the model loads on the other core
meanwhile, so a restart is healthy seconds sooner; later, the model's Python side (tokenising,
pooling) never competes with the event loop for the GIL. The child builds its model with
`runtime.embeddings.make_embeddings`, the same model an in-process load gives, so the vectors
are the same to the bit.

The child is a spawned process (forking a process that runs threads is unsafe) that answers
texts with vectors over one pipe, one request at a time. A plain pipe rather than a
`ProcessPoolExecutor`: the pool passes every call through two helper threads of the API process
(its manager and its queue feeder), each a hand-over of the GIL, which cost a lone routed query
about 0.25 ms. The child ends when asked (`close`), and when the API process dies however that
happens: its end of the pipe then reads end-of-file.
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any

from langchain_core.embeddings import Embeddings

from runtime.errors import ConfigError

STOP_WAIT = 10.0  # seconds `close` lets a running request finish


def _serve(conn: Connection, name: str, threads: int) -> None:
    """In the child: load the model, say so, then answer each list of texts with its vectors
    (or with the error's text) until the parent closes the pipe or sends None."""
    try:
        from runtime.embeddings import make_embeddings
        from runtime.settings import Settings

        # sets torch's environment before importing it
        model = make_embeddings(name, Settings(_env_file=None, embedding_threads=threads))
        model.embed_documents(["warm up"])  # the first call pays torch's set-up
    except BaseException:
        traceback.print_exc()
        conn.send(("failed", None))
        return
    conn.send(("ready", None))
    while True:
        try:
            texts = conn.recv()
        except (EOFError, OSError):  # the API process is gone
            return
        if texts is None:
            return
        try:
            reply: tuple[str, Any] = ("ok", model.embed_documents(texts))
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return


class ProcessEmbeddings(Embeddings):
    """`make_embeddings(name)` run in a child process; the child starts loading at once.
    `threads`: the threads that run a batch there (0: one per core; see `runtime.minilm`)."""

    queries_as_documents = True  # the child runs the local MiniLM (`runtime.minilm`)

    def __init__(self, name: str, *, threads: int = 0) -> None:
        self.name = name
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child_end, name, threads), name="embedding-model", daemon=True
        )
        self._process.start()
        child_end.close()  # the child's copy alone keeps it open: its exit reads as end-of-file here
        self._lock = threading.Lock()  # one request on the pipe at a time
        self._ready = False

    def wait_loaded(self, timeout: float | None = None) -> ProcessEmbeddings:
        """Block until the model has loaded; a child that failed is a ConfigError (its traceback
        is on stderr)."""
        if self._ready:  # every request asks: once loaded, without the lock
            return self
        with self._lock:
            if self._ready:
                return self
            status = None
            try:
                if self._conn.poll(timeout):
                    status, _ = self._conn.recv()
            except (EOFError, OSError):
                pass
            if status != "ready":
                self._end()
                raise ConfigError(
                    f"The embedding model {self.name} could not load in its process (see the error above); "
                    "EMBEDDING_PROCESS=false loads it in the API process."
                )
            self._ready = True
        return self

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.wait_loaded()
        with self._lock:
            try:
                self._conn.send(list(texts))
                status, payload = self._conn.recv()
            except (EOFError, OSError):  # the child is gone, or `close` closed the pipe
                raise RuntimeError(f"The embedding model's process ({self.name}) has ended.") from None
        if status != "ok":
            raise RuntimeError(f"The embedding model failed: {payload}")
        vectors: list[list[float]] = payload
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def close(self) -> None:
        """End the child and wait for it, so its pipe is released before the interpreter exits.
        A request running meanwhile gets STOP_WAIT seconds to finish; then the child is killed
        (and that request fails)."""
        if not self._lock.acquire(timeout=STOP_WAIT):
            self._process.kill()
            self._lock.acquire()  # the request fails at once now that the child is gone
        try:
            try:
                self._conn.send(None)
            except OSError:  # the child is gone already
                pass
            self._end()
        finally:
            self._lock.release()

    def _end(self) -> None:
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(10)
        self._conn.close()
