"""Structured logs: one JSON object a line, through the standard logging module.

Request lines carry the operation, request id, principal, key ARN, outcome,
error type and duration; never a request body, plaintext or key material.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time
from typing import Any

import orjson

_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message"}


_handler: logging.StreamHandler[Any] | None = None
"""The handler :func:`configure_logging` installed, while it is the only one."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        attributes = record.__dict__
        entry: dict[str, Any] = {
            "time": _utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in attributes.keys() - _STANDARD_ATTRIBUTES:
            if not name.startswith("_"):
                entry[name] = attributes[name]
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return _json_line(entry)


def info_line(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """Log ``message`` with ``fields`` at INFO, as ``logger.info`` with extra would.

    Every request logs a line, and through the logging module each line cost
    about a sixth of an Encrypt call served over HTTP. So while the logging is
    what :func:`configure_logging` set up, with nothing added since (a handler
    or filter, as a test's log capture adds), the line is formatted here, as
    :class:`JsonFormatter` formats it, and written under the handler's lock.
    Otherwise it goes through the logging module.
    """
    handler = _handler
    if (
        handler is None
        or logger.handlers
        or logger.filters
        or len(logging.root.handlers) != 1
        or logging.root.handlers[0] is not handler
        or handler.filters
        or not logger.isEnabledFor(logging.INFO)
    ):
        logger.info(message, extra=fields)
        return
    entry: dict[str, Any] = {
        "time": _utc_timestamp(time.time()),
        "level": "info",
        "logger": logger.name,
        "message": message,
        **fields,
    }
    line = _json_line(entry) + handler.terminator
    with handler.lock or contextlib.nullcontext():
        try:
            handler.stream.write(line)
            handler.stream.flush()
        except Exception:
            # As the logging module does: a failed log write must not fail
            # the request it describes.
            handler.handleError(logging.makeLogRecord({"msg": message}))


def _json_line(entry: dict[str, Any]) -> str:
    """Serialize a log entry as one line of JSON, with str() of any value
    that JSON has no type for."""
    try:
        return orjson.dumps(entry, default=str).decode()
    except TypeError:
        # Text that is not valid Unicode, such as a lone surrogate.
        return json.dumps(entry, default=str)


def _utc_timestamp(created: float) -> str:
    """Format a record's time as ISO 8601 in UTC, to the microsecond."""
    seconds = int(created)
    microseconds = int((created - seconds) * 1_000_000)
    return f"{_whole_second(seconds)}.{microseconds:06d}+00:00"


@functools.lru_cache(maxsize=4)
def _whole_second(seconds: int) -> str:
    # Lines come many to a second, so the formatted second is kept.
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def configure_logging(level: str = "INFO") -> None:
    # A request line is written for every call, so skip what the records would
    # otherwise gather and these lines never show: the caller's source line
    # (found by walking the stack), thread, process and multiprocessing names.
    # The logging documentation's "Optimization" section lists these switches.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    global _handler
    _handler = handler
    root.setLevel(level.upper())
    # uvicorn's own access log would repeat every request in another format.
    logging.getLogger("uvicorn.access").disabled = True
