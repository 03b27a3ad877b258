"""The request line: one JSON object per request, written without LogRecords.

``info_line`` formats the line itself while the logging is the one that
``configure_logging`` set up, and hands it to the logging module once anything
else is attached, such as pytest's log capture. Both must give the same
fields.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from functions import logs

FIELDS = {
    "operation": "Encrypt",
    "request_id": "0b7e3c4a-6f1d-4e2b-9a8c-5d4e3f2a1b0c",
    "outcome": "success",
    "duration_ms": 1.25,
    "principal": "arn:aws:iam::111122223333:user/app",
}


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """Run configure_logging against a stream of the test's own; undo it after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stream)
        logs.configure_logging("info")
    try:
        yield stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logs._handler = None


def only_configured_handler() -> None:
    # pytest attaches a capture handler of its own to the root logger for
    # each test, which would send every line through the logging module.
    assert logs._handler is not None
    logging.getLogger().handlers[:] = [logs._handler]


def test_direct_line_has_formatter_fields(
    configured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_configured_handler()
    logger = logging.getLogger("keyledger.request")
    records: list[str] = []
    make_record = logging.Logger.makeRecord

    def counting(self: logging.Logger, *args: object, **kwargs: object) -> object:
        records.append(self.name)
        return make_record(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(logging.Logger, "makeRecord", counting)

    logs.info_line(logger, "request", dict(FIELDS))
    assert records == []
    logger.info("request", extra=dict(FIELDS))
    assert records == ["keyledger.request"]

    direct, through_logging = (
        json.loads(line) for line in configured.getvalue().splitlines()
    )
    assert direct["time"].endswith("+00:00")
    del direct["time"], through_logging["time"]
    assert direct == through_logging
    assert direct == {
        "level": "info",
        "logger": "keyledger.request",
        "message": "request",
        **FIELDS,
    }


def test_line_below_level_is_not_written(configured: io.StringIO) -> None:
    only_configured_handler()
    logging.getLogger().setLevel(logging.WARNING)

    logs.info_line(logging.getLogger("keyledger.request"), "request", dict(FIELDS))

    assert configured.getvalue() == ""


def test_added_handler_receives_line_through_logging(
    configured: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="keyledger.request"):
        logs.info_line(logging.getLogger("keyledger.request"), "request", dict(FIELDS))

    [record] = [r for r in caplog.records if r.name == "keyledger.request"]
    assert record.getMessage() == "request"
    assert record.__dict__["request_id"] == FIELDS["request_id"]
    assert json.loads(configured.getvalue())["request_id"] == FIELDS["request_id"]


def test_text_that_is_not_unicode_is_still_written(configured: io.StringIO) -> None:
    only_configured_handler()
    logs.info_line(
        logging.getLogger("keyledger.request"), "request", {"operation": "\udcff"}
    )

    assert json.loads(configured.getvalue())["operation"] == "\udcff"
