"""Requests that end before their answer: the client went away, or the server is shutting down.

Starlette runs a handler to its end even when nobody is left to read the answer: an abandoned
survey kept calling the model for every persona. `CancelOnDisconnect` watches the connection
once the request's body has been read and cancels the handler when the client leaves before the
response has started, so its model calls are closed and no new one starts; database
transactions roll back on the cancellation. A response that has started (a stream) is left to
end itself: Starlette's and sse-starlette's streams stop on the same disconnect, which they read
through this middleware.

A handler cancelled by the server instead (uvicorn's graceful shutdown ran out,
SHUTDOWN_GRACE_SECONDS) answers 503 with `Retry-After` when it has sent nothing yet, so the
client knows to try again elsewhere rather than seeing a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

SHUTTING_DOWN = "The service is shutting down; try again"
_DISCONNECT: Message = {"type": "http.disconnect"}


class _Connection:
    """One request's view of its connection: the app reads its body through `receive` as before;
    once it has read all of it, a single watcher owns the server's `receive`, and every later
    `receive` of the app (a stream listening for the disconnect) gets `http.disconnect` when the
    client has left. A request whose body the app never reads (a short GET) is not watched."""

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.handler = asyncio.current_task()
        self.body_read = False
        self.response_started = False
        self.response_done = False
        self.cancelled_for_client = False
        self.left = asyncio.Event()  # the client went away (or the server reported the request over)
        self._watcher: asyncio.Task[None] | None = None

    def _watch(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_for_disconnect(), name="watch-client-disconnect")

    async def _watch_for_disconnect(self) -> None:
        message = await self._receive()
        while message["type"] != "http.disconnect":  # nothing else follows a complete body
            message = await self._receive()
        self.left.set()
        # The server also reports a request over once its response is complete: not a departure.
        if not self.response_started and self.handler is not None and not self.handler.done():
            self.cancelled_for_client = True
            log.info("client left before the answer: cancelled %s %s", self.scope.get("method"), self.scope.get("path"))
            self.handler.cancel()

    async def receive(self) -> Message:
        if self._watcher is not None:
            await self.left.wait()
            return _DISCONNECT
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.left.set()
        elif not message.get("more_body", False):
            self.body_read = True
            self._watch()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.response_started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_done = True
        await self._send(message)

    async def answer_shutting_down(self) -> None:
        body = json.dumps({"detail": SHUTTING_DOWN}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", b"1"),
            (b"connection", b"close"),
        ]
        await self.send({"type": "http.response.start", "status": 503, "headers": headers})
        await self.send({"type": "http.response.body", "body": body, "more_body": False})

    def close(self) -> None:
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()


class CancelOnDisconnect:
    """Cancels a request's handler when its client leaves before the response starts."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = _Connection(scope, receive, send)
        try:
            await self.app(scope, connection.receive, connection.send)
        except asyncio.CancelledError:
            handler = connection.handler
            if handler is None or handler.cancelling() == 0:  # not a cancel of this request's task
                raise
            # Ours (the client left) or the server's (the shutdown grace ran out): either way this
            # request is over, and the task that runs it ends here; any other pending cancel stands.
            if handler.uncancel() > 0:
                raise
            if connection.cancelled_for_client or connection.left.is_set():
                return
            log.warning("cancelled %s %s: the server is shutting down", scope.get("method"), scope.get("path"))
            if not connection.response_started:
                await connection.answer_shutting_down()
        finally:
            connection.close()
