"""The audit record of each request, and of the sweep's own work.

A request that saves lifecycle events gets its record written inside that
save's transaction (:meth:`RequestAudit.entry_for_save`). Every other
request, refused or not, gets its record from :func:`submit_outcome` through
the group-commit writer, and its response waits until the record is durable.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from datetime import datetime
from typing import Any

from domain.key import Key
from events.audit import AuditEntry, canonical_json, current_source
from functions import cloudtrail
from functions.registry import WRITING_ACTIONS

SaveResponse = Callable[[Key, Mapping[str, Any] | None], dict[str, Any]]

_SAVE_RESPONSES: dict[str, SaveResponse] = {
    "CreateKey": lambda key, params: {"KeyMetadata": _metadata(key)},
    "ScheduleKeyDeletion": lambda key, params: {
        "KeyId": key.arn,
        "DeletionDate": key.deletion_date,
        "KeyState": key.state.value,
        "PendingWindowInDays": key.pending_window_in_days,
    },
}


def _metadata(key: Key) -> dict[str, Any]:
    from functions.wire import key_metadata

    return key_metadata(key)


class RequestAudit:
    """The audit facts of one request, gathered as it runs."""

    __slots__ = (
        "action",
        "caller",
        "committed_event_id",
        "event_id",
        "event_time",
        "key_arns",
        "params",
        "request_id",
        "source_ip",
        "user_agent",
    )

    def __init__(
        self,
        request_id: str,
        event_time: datetime,
        source_ip: str,
        user_agent: str,
    ) -> None:
        self.request_id = request_id
        self.event_id = str(uuid.uuid4())
        self.event_time = event_time
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.action: str | None = None
        self.caller: Any = None
        self.params: Mapping[str, Any] | None = None
        self.key_arns: list[str] = []
        self.committed_event_id: str | None = None

    def note_key(self, arn: str) -> None:
        """Record a key the request named, for the record's resources."""
        self.key_arns.append(arn)

    # AuditSource.

    def entry_for_save(self, aggregates: Sequence[Any]) -> AuditEntry | None:
        if self.committed_event_id is not None:
            return None
        keys = [aggregate for aggregate in aggregates if isinstance(aggregate, Key)]
        for key in keys:
            self.note_key(key.arn)
        respond = _SAVE_RESPONSES.get(self.action or "")
        result = respond(keys[0], self.params) if respond and keys else None
        return self.entry(result, None, None)

    def committed(self, entry: AuditEntry) -> None:
        self.committed_event_id = entry.event_id

    # Records.

    def entry(
        self,
        result: Mapping[str, Any] | None,
        error_code: str | None,
        error_message: str | None,
    ) -> AuditEntry:
        """Build this request's record with its outcome."""
        caller = self.caller
        action = self.action or ""
        principal = caller.principal
        key_arns = list(dict.fromkeys(self.key_arns))
        recipient = key_arns[0].split(":")[4] if key_arns else principal.account_id
        record = cloudtrail.api_call_record(
            event_id=self.event_id,
            request_id=self.request_id,
            event_time=self.event_time,
            action=action,
            identity=cloudtrail.user_identity(
                principal.arn, principal.account_id, principal.access_key_id
            ),
            region=caller.region,
            source_ip=self.source_ip,
            user_agent=self.user_agent,
            params=self.params,
            result=result,
            error_code=error_code,
            error_message=error_message,
            key_arns=key_arns,
            recipient_account_id=recipient,
            read_only=action not in WRITING_ACTIONS,
        )
        return AuditEntry(
            event_id=self.event_id,
            event_time=self.event_time.timestamp(),
            account_id=recipient,
            region=caller.region,
            event_name=action,
            principal_arn=principal.arn,
            key_id=key_arns[0].rsplit("/", 1)[-1] if key_arns else None,
            error_code=error_code,
            record=canonical_json(record),
        )


@contextlib.contextmanager
def recording(audit: RequestAudit) -> Iterator[None]:
    """Make saves in this block write ``audit``'s record in their transaction."""
    token = current_source.set(audit)
    try:
        yield
    finally:
        current_source.reset(token)


def current_request() -> RequestAudit | None:
    source = current_source.get()
    return source if isinstance(source, RequestAudit) else None


def note_key(arn: str) -> None:
    """Record that the request in progress named this key, if one is."""
    source = current_source.get()
    if isinstance(source, RequestAudit):
        source.note_key(arn)


class ServiceAudit:
    """The record of work KMS does by itself, such as deleting a due key."""

    __slots__ = (
        "additional_event_data",
        "committed_event_id",
        "event_name",
        "event_time",
        "key",
    )

    def __init__(
        self,
        event_name: str,
        key: Key,
        event_time: datetime,
        additional_event_data: Mapping[str, Any] | None = None,
    ) -> None:
        self.event_name = event_name
        self.key = key
        self.event_time = event_time
        self.additional_event_data = additional_event_data
        self.committed_event_id: str | None = None

    def entry_for_save(self, aggregates: Sequence[Any]) -> AuditEntry | None:
        if self.committed_event_id is not None:
            return None
        event_id = str(uuid.uuid4())
        record = cloudtrail.service_event_record(
            event_id=event_id,
            event_time=self.event_time,
            event_name=self.event_name,
            region=self.key.region,
            key_arn=self.key.arn,
            account_id=self.key.account_id,
            additional_event_data=self.additional_event_data,
        )
        return AuditEntry(
            event_id=event_id,
            event_time=self.event_time.timestamp(),
            account_id=self.key.account_id,
            region=self.key.region,
            event_name=self.event_name,
            principal_arn=None,
            key_id=self.key.key_id,
            error_code=None,
            record=canonical_json(record),
        )

    def committed(self, entry: AuditEntry) -> None:
        self.committed_event_id = entry.event_id


@contextlib.contextmanager
def service_event(
    event_name: str,
    key: Key,
    event_time: datetime,
    additional_event_data: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Make a save in this block write a service-event record for ``key``."""
    token = current_source.set(
        ServiceAudit(event_name, key, event_time, additional_event_data)
    )
    try:
        yield
    finally:
        current_source.reset(token)


def outcome_entry(
    audit: RequestAudit,
    result: Mapping[str, Any] | None,
    error_code: str | None,
    error_message: str | None,
) -> AuditEntry | None:
    """Return the record still to write for a finished request, if any."""
    if audit.committed_event_id is not None or audit.caller is None:
        return None
    return audit.entry(result, error_code, error_message)


def submit(writer: Any, entry: AuditEntry | None) -> Future[None] | None:
    return None if entry is None else writer.submit(entry)
