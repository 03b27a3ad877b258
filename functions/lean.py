"""A minimal ASGI 3 application for the per-action Lambda entry points.

Importing FastAPI costs hundreds of milliseconds of cold start, and a Lambda
function that serves one KMS action needs none of its routing. This app turns
the ASGI request into a ``protocol.HttpRequest``, serves it with
``protocol.handle`` and sends the response. It imports no web framework.

``protocol.handle`` blocks the event loop while it runs. That suits Mangum,
which runs one request per invocation, but not a server with concurrent
requests: the local server uses the FastAPI app instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from functions import protocol
from functions.services import Services

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class LeanApp:
    """An ASGI 3 application serving the KMS JSON protocol over HTTP.

    ``only_action`` limits it to one action. Requests for any other action
    get UnknownOperationException from ``protocol.handle``.
    """

    def __init__(self, services: Services, only_action: str | None = None) -> None:
        self.services = services
        self.only_action = only_action

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._serve_http(scope, receive, send)
        elif kind == "lifespan":
            await _answer_lifespan(receive, send)
        else:
            raise ValueError(f"LeanApp serves HTTP only, not {kind!r} connections")

    async def _serve_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return

        request = protocol.HttpRequest(
            method=scope["method"],
            path=scope["path"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in scope.get("headers", [])
            ],
            body=body,
            source_ip=_client_host(scope),
        )
        response = protocol.handle(self.services, request, only_action=self.only_action)

        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (name.encode("latin-1"), value.encode("latin-1"))
                    for name, value in response.headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})


async def _read_body(receive: Receive) -> bytes | None:
    """Read the request body, or return None if the client disconnected.

    Reading stops one byte past ``protocol.MAX_BODY_BYTES``: that is enough for
    ``protocol.handle`` to reject the request as too large, without holding
    the rest of an oversized body in memory.
    """
    limit = protocol.MAX_BODY_BYTES + 1
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        chunks.append(chunk[: limit - size])
        size += len(chunks[-1])
        if size >= limit or not message.get("more_body", False):
            return b"".join(chunks)


async def _answer_lifespan(receive: Receive, send: Send) -> None:
    # Nothing to start or stop: the caller owns the Services and closes them.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _client_host(scope: Scope) -> str:
    client = scope.get("client")
    if not client or client[0] is None:
        return ""
    return str(client[0])
