"""Structured logs: one JSON object a line, through the standard logging module.

Request lines carry the operation, request id, principal, key ARN, outcome,
error type and duration; never a request body, plaintext or key material.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message"}


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
        return json.dumps(entry, default=str)


def _utc_timestamp(created: float) -> str:
    """Format a record's time as ISO 8601 in UTC, to the microsecond."""
    seconds = int(created)
    microseconds = int((created - seconds) * 1_000_000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{whole}.{microseconds:06d}+00:00"


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
    root.setLevel(level.upper())
    # uvicorn's own access log would repeat every request in another format.
    logging.getLogger("uvicorn.access").disabled = True
