"""The FastAPI app: the local server and the single-function Lambda deployment."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import (
    UnknownOperationException,
    ValidationException,
)
from functions import protocol
from functions.registry import FAST_ACTIONS
from functions.services import Services
from functions.sweep import run_sweep, sign_audit_digest

logger = logging.getLogger("keyledger.server")

DEV_CLOCK_PATH = "/_keyledger/dev-clock"
# 100 years: far past any deletion window or rotation period, and well inside
# what timedelta and datetime can represent.
_MAX_DEV_CLOCK_STEP_SECONDS = 100 * 366 * 86400.0
# The dev clock stops short of datetime's year 9999, so that a deletion date
# 30 days or a rotation period 2560 days ahead of it can still be computed.
DEV_CLOCK_LIMIT = datetime(9000, 1, 1, tzinfo=UTC)
_MAX_DEV_CLOCK_BODY_BYTES = 1024


def _request_of(scope: Scope, body: bytes) -> protocol.HttpRequest:
    # The signature covers the path as the client sent it, percent-encoded,
    # so take the raw path rather than the decoded one.
    raw_path = scope.get("raw_path")
    client = scope.get("client")
    return protocol.HttpRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1") if raw_path else scope["path"],
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=[
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope["headers"]
        ],
        body=body,
        source_ip=client[0] if client else "",
    )


def _response_of(response: protocol.HttpResponse) -> Response:
    return Response(
        content=response.body,
        status_code=response.status,
        headers=dict(response.headers),
        media_type=protocol.CONTENT_TYPE,
    )


async def _sweep_forever(services: Services) -> None:
    interval = services.settings.sweep_interval
    while True:
        try:
            await run_in_threadpool(run_sweep, services)
        except Exception:
            logger.exception("sweep failed; it runs again in %s s", interval)
        await asyncio.sleep(interval)


async def _sign_audit_digests_forever(services: Services) -> None:
    interval = services.settings.audit_digest_interval
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(sign_audit_digest, services)
        except Exception:
            logger.exception(
                "signing an audit digest failed; it is tried again in %s s", interval
            )


def create_app(services: Services, *, run_sweeper: bool = True) -> FastAPI:
    # A read from SQLite in WAL mode never waits on a writer, so the fast
    # actions run on the event loop and skip the thread hand-off. A
    # PostgreSQL round trip can wait on a lock or a slow server, which would
    # stall every request, so there every action runs in the thread pool.
    inline_actions = frozenset() if services.store.is_postgres else FAST_ACTIONS
    # On SQLite the records of the loop's requests are committed on the loop.
    submit = services.loop_audit.submit if services.loop_audit is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = (
            [
                asyncio.create_task(_sweep_forever(services)),
                asyncio.create_task(_sign_audit_digests_forever(services)),
            ]
            if run_sweeper
            else []
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def kms(scope: Scope, receive: Receive, send: Send) -> None:
        if _declared_length(scope) > protocol.MAX_BODY_BYTES:
            # Refused before the first receive, which is when uvicorn sends
            # "100 Continue" to a client that asked with Expect.
            await _send(send, _too_large())
            return
        try:
            body = await _receive_body(receive)
        except ClientDisconnect:
            # Any client can hang up mid-body, so this is routine and gets no
            # traceback. The client reads no response.
            logger.debug("client disconnected before sending the whole request body")
            return
        if body is None:
            await _send(send, _too_large())
            return
        call = protocol.Call()
        try:
            protocol.prepare(services, _request_of(scope, body), call, None)
            if call.action in inline_actions:
                result = protocol.execute(services, call)
            else:
                result = await run_in_threadpool(protocol.execute, services, call)
        except Exception as error:
            response, pending = protocol.respond_with_error(
                services, call, error, submit
            )
        else:
            response, pending = protocol.respond(services, call, result, submit)
        if pending is not None:
            # No response leaves before its audit record is durable.
            try:
                if isinstance(pending, asyncio.Future):
                    await pending
                else:
                    await asyncio.wait_for(
                        asyncio.wrap_future(pending), protocol.AUDIT_WAIT_SECONDS
                    )
            except Exception as error:
                response = protocol.audit_failed(call, error)
        await _send(send, response)

    app = _KeyLedgerApp(
        kms,
        title="KeyLedger",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )

    @app.post(DEV_CLOCK_PATH)
    async def advance_dev_clock(request: Request) -> Response:
        return await _advance_dev_clock(services, request)

    @app.api_route(
        "/{path:path}",
        methods=["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
    )
    async def other(request: Request) -> Response:
        if request.method == "POST":
            # The KMS endpoint is POST / alone; another path names no action.
            return _error_of(UnknownOperationException(""))
        body = await _receive_body(request.receive) or b""
        return _response_of(protocol.handle(services, _request_of(request.scope, body)))

    @app.exception_handler(StarletteHTTPException)
    async def framework_error(request: Request, error: Exception) -> Response:
        # Starlette's own refusals (an unrouted method, say) would otherwise
        # reach the client as {"detail": ...} instead of a KMS error body.
        return _error_of(UnknownOperationException(""))

    @app.exception_handler(ClientDisconnect)
    async def client_disconnected(request: Request, error: Exception) -> Response:
        # Any client can hang up mid-body, so this is routine and gets no
        # traceback. The client reads no response.
        logger.debug(
            "client disconnected before sending the whole request body",
            extra={"client": request.client.host if request.client else ""},
        )
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, error: Exception) -> Response:
        return _error_of(error)

    return app


class _KeyLedgerApp(FastAPI):
    """The FastAPI app, with the KMS endpoint (``POST /``) served in front of it.

    Every KMS call is ``POST /``, and its handler needs none of what the
    framework adds per request. Routing, the Request and Response objects and
    five layers of middleware cost about a sixth of an audited Encrypt call's
    time (2,310 against 1,950 req/s without them, at concurrency 8 on two
    cores). So that endpoint is a plain ASGI function, which catches its
    own errors as the framework's error handlers would, and every other path
    and the lifespan go through FastAPI.
    """

    def __init__(self, kms: ASGIApp, **options: Any) -> None:
        super().__init__(**options)
        self._kms = kms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == "/"
        ):
            await _serve_guarded(self._kms, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


async def _serve_guarded(
    endpoint: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run ``endpoint``, turning any error it raises into a KMS error body."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        await endpoint(scope, receive, tracking_send)
    except Exception as error:
        if started:
            # The status line is on its way; the server closes the connection.
            raise
        await _send(send, protocol.error_response(protocol.Call(), error))


async def _receive_body(
    receive: Receive, max_bytes: int = protocol.MAX_BODY_BYTES
) -> bytes | None:
    """Read the body from ASGI messages, or None once it passes ``max_bytes``.

    Raises ClientDisconnect when the client hangs up first, as Starlette's
    Request.stream does.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _declared_length(scope: Scope) -> int:
    """Return the Content-Length the client declared, or 0 for none or an invalid one.

    The body itself is still counted as it arrives, so a length that lies or is
    missing is caught there.
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                return 0
            # Past 18 digits the length is over any limit, and int() of
            # thousands of digits would raise.
            return int(value) if len(value) <= 18 else 10**18
    return 0


async def _send(send: Send, response: protocol.HttpResponse) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in response.headers
    ]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send(
        {"type": "http.response.start", "status": response.status, "headers": headers}
    )
    await send({"type": "http.response.body", "body": response.body})


def _too_large() -> protocol.HttpResponse:
    return protocol.error_response(
        protocol.Call(), protocol.body_too_large(protocol.MAX_BODY_BYTES)
    )


def _error_of(error: BaseException) -> Response:
    """Render ``error`` as a KMS error body with a request id of its own."""
    return _response_of(protocol.error_response(protocol.Call(), error))


async def _advance_dev_clock(services: Services, request: Request) -> Response:
    """Move the dev clock forward: ``{"Seconds": N}``; loopback callers only."""
    clock = services.dev_clock
    client = request.client.host if request.client else ""
    if clock is None or not _is_loopback(client):
        # Without --dev-clock, or for a remote caller, the endpoint does not
        # exist, so it returns the same error as every other unknown path.
        return _error_of(UnknownOperationException(""))
    body = await _receive_body(request.receive, _MAX_DEV_CLOCK_BODY_BYTES)
    if body is None:
        return _error_of(protocol.body_too_large(_MAX_DEV_CLOCK_BODY_BYTES))
    seconds = _dev_clock_step(body)
    if seconds is None:
        return _error_of(
            ValidationException(
                'Send {"Seconds": N} with N a number of seconds from 0 to '
                f"{_MAX_DEV_CLOCK_STEP_SECONDS:.0f}."
            )
        )
    step = timedelta(seconds=seconds)
    # No await separates this check from advance(), so two steps sent at
    # once cannot both pass it.
    if clock.now() + step >= DEV_CLOCK_LIMIT:
        return _error_of(
            ValidationException(
                f"The dev clock reads {clock.now().isoformat()} and cannot reach "
                f"{DEV_CLOCK_LIMIT.isoformat()}; it was not moved."
            )
        )
    now = clock.advance(step)
    logger.warning("dev clock advanced by %s s; it now reads %s", seconds, now)
    await run_in_threadpool(run_sweep, services)
    return Response(
        content=f'{{"Now":{now.timestamp():.3f}}}'.encode(),
        media_type=protocol.CONTENT_TYPE,
    )


def _dev_clock_step(body: bytes) -> float | None:
    """Return the step in seconds of a dev-clock body, or None when it is invalid."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        # 1 KiB of nested brackets is deep enough for RecursionError.
        return None
    if not isinstance(payload, dict):
        return None
    value = payload.get("Seconds")
    # JSON true is an int to Python, and a quoted number is text.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    if not math.isfinite(seconds) or not 0 <= seconds < _MAX_DEV_CLOCK_STEP_SECONDS:
        return None
    return seconds


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
