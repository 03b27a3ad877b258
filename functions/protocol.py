"""The AWS JSON 1.1 protocol, independent of any web framework.

``POST /`` with ``X-Amz-Target: TrentService.<Action>``: authenticate with
SigV4, validate the body against the service model, run the action's handler,
and render the result or a KMS error body. No input reaches the client as a
stack trace: anything unexpected becomes KMSInternalException, and the
traceback goes to the log.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NoReturn, cast

import orjson

from domain.errors import (
    DryRunOperationException,
    KMSError,
    KMSInternalException,
    RequestEntityTooLargeException,
    UnknownOperationException,
    UnsupportedOperationException,
)
from domain.identifiers import random_uuid
from domain.principal import Caller
from events.audit import AuditEntry
from events.store import ConcurrencyConflict, Store, StoreUnavailable
from events.vault import KeyMaterialUnavailable
from functions.audit import RequestAudit, outcome_entry, recording
from functions.logs import info_line
from functions.registry import (
    HANDLER_MODULES,
    WRITING_ACTIONS,
    Handler,
    handler_for,
)
from functions.services import Services

logger = logging.getLogger("keyledger.request")

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "TrentService."
MAX_BODY_BYTES = 1024 * 1024
MAX_WRITE_ATTEMPTS = 10
# A request waits this long for its audit record before it fails.
AUDIT_WAIT_SECONDS = 30.0
_FIRST_BACK_OFF_SECONDS = 0.005
_MAX_BACK_OFF_SECONDS = 0.25
INTERNAL_ERROR_MESSAGE = "An internal error occurred. The request was not completed."
# NOTE: AWS's exact wording is not documented; this follows its description
# of DryRunOperationException.
DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    """Header names lower-cased, in the order received; names may repeat."""
    body: bytes
    source_ip: str = ""


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class Call:
    """One request on its way through the protocol layer, for the log line."""

    request_id: str = field(default_factory=random_uuid)
    started: float = field(default_factory=time.perf_counter)
    action: str | None = None
    caller: Caller | None = None
    audit: RequestAudit | None = None
    """The request's audit facts, once the caller is known."""
    params: dict[str, Any] = field(default_factory=dict)


def header(request: HttpRequest, name: str) -> str | None:
    for key, value in request.headers:
        if key == name:
            return value
    return None


def body_too_large(max_bytes: int) -> RequestEntityTooLargeException:
    """Return the error for a request body of more than ``max_bytes``."""
    return RequestEntityTooLargeException(
        f"The request body is larger than {max_bytes} bytes."
    )


def prepare(
    services: Services, request: HttpRequest, call: Call, only_action: str | None
) -> None:
    """Find the action, authenticate the caller and validate the body.

    Fills in ``call``; raises a KMSError for any refusal.
    """
    if len(request.body) > MAX_BODY_BYTES:
        raise body_too_large(MAX_BODY_BYTES)
    target = header(request, "x-amz-target") or ""
    action = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
    if request.method != "POST" or not action:
        raise UnknownOperationException("")
    model_actions = services.operation_names
    if action not in model_actions or (only_action and action != only_action):
        raise UnknownOperationException("")
    call.action = action
    call.caller = services.verifier.verify(
        request.method,
        request.path,
        request.query_string,
        request.headers,
        request.body,
        request.source_ip,
    )
    audit = RequestAudit(
        call.request_id,
        services.clock.now(),
        request.source_ip,
        header(request, "user-agent") or "",
    )
    audit.action = action
    audit.caller = call.caller
    call.audit = audit
    if action not in HANDLER_MODULES:
        # TODO: the actions of asymmetric and HMAC keys, custom key stores
        # and multi-Region keys.
        raise UnsupportedOperationException(
            f"KeyLedger does not implement {action} yet."
        )
    call.params = services.validator.validate(action, request.body)
    audit.params = call.params


def execute(services: Services, call: Call) -> dict[str, Any]:
    """Run the action's handler, retrying a write that lost a concurrency race."""
    action = call.action
    caller = call.caller
    if action is None or caller is None:
        raise KMSInternalException(INTERNAL_ERROR_MESSAGE)
    handler = handler_for(action)
    if handler is None:
        raise UnsupportedOperationException(
            f"KeyLedger does not implement {action} yet."
        )
    audit = call.audit
    if audit is None:
        raise KMSInternalException(INTERNAL_ERROR_MESSAGE)
    with recording(audit):
        return _run(services, call, handler, action, caller)


def _run(
    services: Services, call: Call, handler: Handler, action: str, caller: Caller
) -> dict[str, Any]:
    if call.params.get("DryRun"):
        _dry_run(handler, services, caller, call.params)
    attempts = MAX_WRITE_ATTEMPTS if action in WRITING_ACTIONS else 1
    for attempt in range(1, attempts + 1):
        try:
            return handler(services, caller, call.params)
        except ConcurrencyConflict:
            logger.info(
                "write lost an optimistic-concurrency race; retrying",
                extra={
                    "operation": action,
                    "request_id": call.request_id,
                    "attempt": attempt,
                },
            )
            if attempt < attempts:
                _back_off(attempt)
    logger.error(
        "write could not commit after %d attempts",
        attempts,
        extra={"operation": action, "request_id": call.request_id},
    )
    raise KMSInternalException(INTERNAL_ERROR_MESSAGE)


class _DryRunStore:
    """The store, except that saving stops the request with DryRunOperationException."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def save(self, *aggregates: Any, **kwargs: Any) -> None:
        raise DryRunOperationException(DRY_RUN_MESSAGE)


def _dry_run(
    handler: Handler, services: Services, caller: Caller, params: dict[str, Any]
) -> NoReturn:
    """Make every check the request would make and change nothing.

    The handler runs in full against a store that refuses to save, so it
    meets every check and error of a real run. A handler that saves stops
    at its save; one that saves nothing (Encrypt, Decrypt, ...) returns a
    result that is thrown away.
    """
    dry_store = cast(Store, _DryRunStore(services.store))
    handler(replace(services, store=dry_store), caller, params)
    raise DryRunOperationException(DRY_RUN_MESSAGE)


def _back_off(attempt: int) -> None:
    """Sleep a random time that grows with ``attempt`` before a retried write.

    Writers that retry at once collide again, so under contention the same
    writer can lose every attempt. Full jitter spreads them out. The local
    server runs writes in a worker thread, so sleeping blocks no other
    request there. A Lambda entry point serves one request at a time.
    """
    ceiling = min(_MAX_BACK_OFF_SECONDS, _FIRST_BACK_OFF_SECONDS * 2 ** (attempt - 1))
    time.sleep(random.uniform(0, ceiling))  # noqa: S311 - timing, not secrecy


def _json_default(value: object) -> object:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def render_result(result: dict[str, Any]) -> bytes:
    """Serialize a handler's result as the JSON body of the response.

    Blobs (ciphertexts, plaintexts, data keys) become base64 text and
    timestamps epoch seconds. orjson writes the body in a fraction of the
    json module's time; a value it refuses (an integer past 64 bits, say)
    sends the whole body through :func:`_render_with_json` instead.
    """
    try:
        return orjson.dumps(
            result, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME
        )
    except TypeError:
        return _render_with_json(result)


def _render_with_json(result: dict[str, Any]) -> bytes:
    """Serialize a result with the json module, writing blobs directly.

    The base64 alphabet needs no JSON escaping, and scanning a blob of
    several KiB for characters to escape would cost more than all the rest
    of the body.
    """
    if not any(isinstance(value, bytes) for value in result.values()):
        return json.dumps(result, default=_json_default, separators=(",", ":")).encode()
    members = []
    for name, value in result.items():
        if isinstance(value, bytes):
            text = base64.b64encode(value).decode("ascii")
            members.append(f'{json.dumps(name)}:"{text}"')
        else:
            rendered = json.dumps(value, default=_json_default, separators=(",", ":"))
            members.append(f"{json.dumps(name)}:{rendered}")
    return ("{" + ",".join(members) + "}").encode()


def success_response(call: Call, result: dict[str, Any]) -> HttpResponse:
    body = render_result(result)
    _log(call, "success", result=result)
    return HttpResponse(200, body, _headers(call))


def error_response(call: Call, error: BaseException) -> HttpResponse:
    """Render any failure as a KMS error body; log what the client is not shown."""
    if not isinstance(error, KMSError):
        if isinstance(error, StoreUnavailable | KeyMaterialUnavailable):
            logger.error(
                "request failed: %s",
                error,
                extra={"operation": call.action, "request_id": call.request_id},
            )
        else:
            logger.error(
                "unexpected error",
                exc_info=(type(error), error, error.__traceback__),
                extra={"operation": call.action, "request_id": call.request_id},
            )
        error = KMSInternalException(INTERNAL_ERROR_MESSAGE)
    body: dict[str, str] = {"__type": error.name}
    if error.message:
        body["message"] = error.message
    _log(call, "error", error_type=error.name)
    return HttpResponse(error.status, json.dumps(body).encode("utf-8"), _headers(call))


def handle(
    services: Services, request: HttpRequest, only_action: str | None = None
) -> HttpResponse:
    """Serve one request start to finish, blocking; for Lambda and tests."""
    call = Call()
    try:
        prepare(services, request, call, only_action)
        result = execute(services, call)
    except Exception as error:
        response, pending = respond_with_error(services, call, error)
    else:
        response, pending = respond(services, call, result)
    if pending is None:
        return response
    try:
        pending.result(timeout=AUDIT_WAIT_SECONDS)
    except Exception as error:
        return audit_failed(call, error)
    return response


Submit = Callable[[AuditEntry], Any]


def respond(
    services: Services,
    call: Call,
    result: dict[str, Any],
    submit: Submit | None = None,
) -> tuple[HttpResponse, Any]:
    """Render a success and queue its audit record; send the response only
    once the returned future (if any) completes.

    ``submit`` queues the record (the audit thread's writer unless given)
    and returns the future to wait on.
    """
    pending = _submit_record(services, call, result, None, submit)
    return success_response(call, result), pending


def respond_with_error(
    services: Services,
    call: Call,
    error: BaseException,
    submit: Submit | None = None,
) -> tuple[HttpResponse, Any]:
    """Render a failure and queue its audit record, as :func:`respond` does."""
    response = error_response(call, error)
    pending = None
    if call.audit is not None:
        kms_error = error if isinstance(error, KMSError) else None
        pending = _submit_record(
            services,
            call,
            None,
            kms_error or KMSInternalException(INTERNAL_ERROR_MESSAGE),
            submit,
        )
    return response, pending


def audit_failed(call: Call, error: BaseException) -> HttpResponse:
    """Fail a request whose audit record could not be written (fail closed)."""
    logger.error(
        "request failed because its audit record could not be written: %s",
        error,
        extra={"operation": call.action, "request_id": call.request_id},
    )
    internal = KMSInternalException(INTERNAL_ERROR_MESSAGE)
    body = json.dumps({"__type": internal.name, "message": internal.message})
    return HttpResponse(internal.status, body.encode("utf-8"), _headers(call))


def _submit_record(
    services: Services,
    call: Call,
    result: dict[str, Any] | None,
    error: KMSError | None,
    submit: Submit | None,
) -> Any:
    audit = call.audit
    if audit is None:
        return None
    entry = outcome_entry(
        audit,
        result,
        error.name if error is not None else None,
        error.message if error is not None else None,
    )
    if entry is None:
        return None
    return (submit or services.audit_writer.submit)(entry)


def _headers(call: Call) -> list[tuple[str, str]]:
    return [("content-type", CONTENT_TYPE), ("x-amzn-requestid", call.request_id)]


def _log(
    call: Call,
    outcome: str,
    result: dict[str, Any] | None = None,
    error_type: str | None = None,
) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    extra: dict[str, Any] = {
        "operation": call.action,
        "request_id": call.request_id,
        "outcome": outcome,
        "duration_ms": round((time.perf_counter() - call.started) * 1000, 3),
    }
    if call.caller is not None:
        extra["principal"] = call.caller.principal.arn
        extra["region"] = call.caller.region
    key_arn = _key_arn_of(result)
    if key_arn:
        extra["key_arn"] = key_arn
    if error_type:
        extra["error_type"] = error_type
    info_line(logger, "request", extra)


def _key_arn_of(result: dict[str, Any] | None) -> str | None:
    if not result:
        return None
    metadata = result.get("KeyMetadata")
    if isinstance(metadata, dict):
        return str(metadata.get("Arn"))
    # Most actions return the key ARN. A few return the bare key id, as AWS
    # does, and an id is not an ARN, so it is left out of the key_arn field.
    key_id = result.get("KeyId")
    return (
        str(key_id) if isinstance(key_id, str) and key_id.startswith("arn:") else None
    )
