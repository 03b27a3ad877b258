"""The audit record of each request, and of the sweep's own work.

A request that saves lifecycle events gets its record written inside that
save's transaction (:meth:`RequestAudit.entry_for_save`). Every other
request, refused or not, gets its record from :func:`submit_outcome` through
the group-commit writer, and its response waits until the record is durable.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from domain.alias import Alias
from domain.ciphertext import parse_header
from domain.errors import KMSError
from domain.identifiers import key_arn, random_uuid
from domain.key import Key
from events.audit import AuditEntry, canonical_json, current_source
from functions import cloudtrail
from functions.registry import WRITING_ACTIONS

SaveResponse = Callable[[Key | None, Alias | None], dict[str, Any] | None]
"""Compute a saving action's responseElements from the aggregate it saved."""


def _pending(key: Key, event_class: type[Any], member: str) -> str | None:
    """Return ``member`` of the first pending event of ``event_class``."""
    for event in key.pending_events:
        if isinstance(event, event_class):
            return str(getattr(event, member))
    return None


def _key_arn_of(key: Key | None, alias: Alias | None) -> str | None:
    if key is not None:
        return key.arn
    if alias is not None:
        return key_arn(alias.region, alias.account_id, alias.target_key_id)
    return None


def _key_id_response(key: Key | None, alias: Alias | None) -> dict[str, Any] | None:
    arn = _key_arn_of(key, alias)
    return None if arn is None else {"KeyId": arn}


def _create_key_response(key: Key | None, alias: Alias | None) -> dict[str, Any] | None:
    return None if key is None else {"KeyMetadata": _metadata(key)}


def _schedule_deletion_response(
    key: Key | None, alias: Alias | None
) -> dict[str, Any] | None:
    # The ScheduleKeyDeletion example records keyId, keyState and
    # deletionDate, though the API also returns PendingWindowInDays.
    if key is None:
        return None
    return {
        "KeyId": key.arn,
        "KeyState": key.state.value,
        "DeletionDate": key.deletion_date,
    }


def _create_grant_response(
    key: Key | None, alias: Alias | None
) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "GrantId": _pending(key, Key.GrantCreated, "grant_id"),
        "KeyId": key.arn,
    }


def _import_response(key: Key | None, alias: Alias | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "KeyId": key.arn,
        "KeyMaterialId": _pending(key, Key.KeyMaterialImported, "key_material_id"),
    }


def _delete_imported_response(
    key: Key | None, alias: Alias | None
) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "KeyId": key.arn,
        "KeyMaterialId": _pending(
            key, Key.ImportedKeyMaterialDeleted, "key_material_id"
        ),
    }


# responseElements of the actions that save events, as their CloudTrail
# examples show them. Since December 2022 AWS KMS adds the affected key's ARN
# as responseElements.keyId to operations that return nothing (the pages for
# EnableKey, DisableKey, EnableKeyRotation, CreateAlias, UpdateAlias,
# CreateGrant, ImportKeyMaterial and DeleteImportedKeyMaterial say so).
# NOTE: the pages for DisableKeyRotation, DeleteAlias, PutKeyPolicy,
# TagResource, UntagResource, UpdateKeyDescription and RevokeGrant do not
# say so and show null, so their responseElements stay null here.
_SAVE_RESPONSES: dict[str, SaveResponse] = {
    "CreateKey": _create_key_response,
    "ScheduleKeyDeletion": _schedule_deletion_response,
    "CancelKeyDeletion": _key_id_response,
    "EnableKey": _key_id_response,
    "DisableKey": _key_id_response,
    "EnableKeyRotation": _key_id_response,
    "RotateKeyOnDemand": _key_id_response,
    "CreateAlias": _key_id_response,
    "UpdateAlias": _key_id_response,
    "CreateGrant": _create_grant_response,
    "ImportKeyMaterial": _import_response,
    "DeleteImportedKeyMaterial": _delete_imported_response,
}

# Actions that return no body but whose record names the key in
# responseElements.keyId, also when the request changed nothing and saved no
# event (enabling a key that is already enabled).
_KEY_ID_RESPONSE_ACTIONS = frozenset(
    {"EnableKey", "DisableKey", "EnableKeyRotation", "CreateAlias", "UpdateAlias"}
)


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
        self.event_id = random_uuid()
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
        aliases = [item for item in aggregates if isinstance(item, Alias)]
        for saved_key in keys:
            self.note_key(saved_key.arn)
        # CloudTrail lists an alias action's alias ARN among its resources,
        # with the key's (the CreateAlias and UpdateAlias examples).
        for saved_alias in aliases:
            self.note_key(saved_alias.arn)
        key = keys[0] if keys else None
        alias = aliases[0] if aliases else None
        respond = _SAVE_RESPONSES.get(self.action or "")
        result = respond(key, alias) if respond else None
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
        key_arns = _ordered_resources(action, self.params, self.key_arns)
        recipient = key_arns[0].split(":")[4] if key_arns else principal.account_id
        if error_code is None and action in _KEY_ID_RESPONSE_ACTIONS:
            target = next((arn for arn in reversed(key_arns) if ":key/" in arn), None)
            if target is not None and not (result or {}).get("KeyId"):
                result = {**(result or {}), "KeyId": target}
        record = cloudtrail.api_call_record(
            event_id=self.event_id,
            request_id=self.request_id,
            event_time=self.event_time,
            action=action,
            identity=_user_identity(
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
            key_id=_first_key_id(key_arns),
            error_code=error_code,
            record=canonical_json(record),
        )


@functools.lru_cache(maxsize=1024)
def _user_identity(
    principal_arn: str, account_id: str, access_key_id: str
) -> dict[str, Any]:
    # Built once per caller and shared by its records, which only read it.
    return cloudtrail.user_identity(principal_arn, account_id, access_key_id)


def _ordered_resources(
    action: str, params: Mapping[str, Any] | None, arns: Sequence[str]
) -> list[str]:
    """Return the ARNs a record lists, each once, in CloudTrail's order.

    The ReEncrypt example lists the source key before the destination key,
    whichever the request checked first.
    """
    ordered = list(dict.fromkeys(arns))
    blob = (params or {}).get("CiphertextBlob")
    if action != "ReEncrypt" or not isinstance(blob, bytes):
        return ordered
    try:
        source_key_id = parse_header(blob).key_id
    except KMSError:
        return ordered
    sources = [arn for arn in ordered if arn.endswith(f":key/{source_key_id}")]
    return sources + [arn for arn in ordered if arn not in sources]


def _first_key_id(arns: Sequence[str]) -> str | None:
    """Return the key id of the first key ARN, for the key_id column."""
    for arn in arns:
        if ":key/" in arn:
            return arn.rsplit("/", 1)[-1]
    return None


@contextlib.contextmanager
def recording(audit: RequestAudit) -> Iterator[None]:
    """Make saves in this block write ``audit``'s record in their transaction."""
    token = current_source.set(audit)
    try:
        yield
    finally:
        current_source.reset(token)


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
        response, details = _service_event_elements(
            self.event_name, self.key, self.additional_event_data
        )
        record = cloudtrail.service_event_record(
            event_id=event_id,
            event_time=self.event_time,
            event_name=self.event_name,
            region=self.key.region,
            key_arn=self.key.arn,
            account_id=self.key.account_id,
            response=response,
            details=details,
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


def _service_event_elements(
    event_name: str, key: Key, given: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return a service event's responseElements and serviceEventDetails.

    They are read from the key as it is saved, as the CloudTrail examples
    show them. Events CloudTrail has no example of take ``given`` as their
    serviceEventDetails.
    """
    if event_name == "DeleteKey":
        # The DeleteKey page: entries since December 2022 carry the key ARN in
        # responseElements.keyId.
        return {"KeyId": key.arn}, None
    if event_name == "RotateKey":
        material_ids = list(key.key_materials)
        details: dict[str, Any] = {
            "rotationType": "AUTOMATIC",
            "keyOrigin": key.origin,
            "currentKeyMaterialId": key.current_key_material_id,
        }
        if len(material_ids) >= 2:
            details["previousKeyMaterialId"] = material_ids[-2]
        return None, details
    if event_name == "DeleteExpiredKeyMaterial":
        expired = _pending(key, Key.ImportedKeyMaterialExpired, "key_material_id")
        return None, {"keyId": key.key_id, "keyMaterialId": expired}
    return None, dict(given) if given else None


@contextlib.contextmanager
def service_event(
    event_name: str,
    key: Key,
    event_time: datetime,
    additional_event_data: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Make a save in this block write a service-event record for ``key``.

    ``additional_event_data`` becomes serviceEventDetails for an event whose
    details the record cannot read from the key itself.
    """
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
