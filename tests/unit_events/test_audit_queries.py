"""Read queries over the audit trail: paging, filters and alias history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.alias import Alias
from events.audit import AuditEntry, canonical_json
from events.audit_queries import AuditFilter, AuditQueries, KeyPeriod

ACCOUNT = "111122223333"
REGION = "us-east-1"
KEY_A = "11111111-1111-1111-1111-111111111111"
KEY_B = "22222222-2222-2222-2222-222222222222"
START = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)


def key_arn(key_id: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def entry(
    number: int,
    event_name: str,
    key_ids: list[str],
    error_code: str | None = None,
    principal: str = f"arn:aws:iam::{ACCOUNT}:root",
) -> AuditEntry:
    record = {
        "eventID": f"event-{number}",
        "eventName": event_name,
        "resources": [
            {"ARN": key_arn(key_id), "accountId": ACCOUNT, "type": "AWS::KMS::Key"}
            for key_id in key_ids
        ],
    }
    return AuditEntry(
        event_id=f"event-{number}",
        event_time=(START + timedelta(minutes=number)).timestamp(),
        account_id=ACCOUNT,
        region=REGION,
        event_name=event_name,
        principal_arn=principal,
        key_id=key_ids[0] if key_ids else None,
        error_code=error_code,
        record=canonical_json(record),
    )


def names(rows: Any) -> list[str]:
    return [row.event_id for row in rows]


def test_records_stream_in_pages_in_order(database: Any) -> None:
    store = database.open()
    store.append_audit([entry(n, "Encrypt", [KEY_A]) for n in range(1, 24)])
    queries = AuditQueries(store)

    everything = list(queries.records(AuditFilter(), page_size=5))
    limited = list(queries.records(AuditFilter(), after_seq=20, page_size=5))
    first_seven = list(queries.records(AuditFilter(), limit=7, page_size=3))

    assert [row.seq for row in everything] == list(range(1, 24))
    assert [row.seq for row in limited] == [21, 22, 23]
    assert [row.seq for row in first_seven] == list(range(1, 8))
    assert json.loads(everything[0].record)["eventID"] == "event-1"


def test_records_filter_by_key_error_and_time(database: Any) -> None:
    store = database.open()
    store.append_audit(
        [
            entry(1, "Encrypt", [KEY_A]),
            entry(2, "Encrypt", [KEY_B], error_code="DisabledException"),
            # ReEncrypt's key_id column contains its first key only.
            entry(3, "ReEncrypt", [KEY_B, KEY_A]),
            entry(4, "Decrypt", [KEY_A], error_code="AccessDeniedException"),
            entry(5, "ListKeys", []),
        ]
    )
    queries = AuditQueries(store)
    minute = timedelta(minutes=1)

    of_a = queries.records(AuditFilter(keys=(KeyPeriod(KEY_A, key_arn(KEY_A)),)))
    of_a_in_time = queries.records(
        AuditFilter(
            keys=(
                KeyPeriod(
                    KEY_A,
                    key_arn(KEY_A),
                    (START + 2 * minute).timestamp(),
                    (START + 4 * minute).timestamp(),
                ),
            )
        )
    )
    errors = queries.records(AuditFilter(any_error=True))
    denied = queries.records(AuditFilter(error_code="AccessDeniedException"))
    since = queries.records(AuditFilter(since=(START + 4 * minute).timestamp()))
    nothing = queries.records(AuditFilter(keys=()))

    assert names(of_a) == ["event-1", "event-3", "event-4"]
    assert names(of_a_in_time) == ["event-3"]
    assert names(errors) == ["event-2", "event-4"]
    assert names(denied) == ["event-4"]
    assert names(since) == ["event-4", "event-5"]
    assert names(nothing) == []


def test_last_cryptographic_use_skips_failures_and_reads(database: Any) -> None:
    store = database.open()
    store.append_audit(
        [
            entry(1, "CreateKey", [KEY_A]),
            entry(2, "GenerateDataKey", [KEY_A]),
            entry(3, "Decrypt", [KEY_A], error_code="InvalidCiphertextException"),
            entry(4, "DescribeKey", [KEY_A]),
            entry(5, "ReEncrypt", [KEY_B, KEY_A]),
            entry(6, "Encrypt", [KEY_B], error_code="DisabledException"),
        ]
    )
    queries = AuditQueries(store)

    last_a = queries.last_cryptographic_use(KEY_A, key_arn(KEY_A))
    last_b = queries.last_cryptographic_use(KEY_B, key_arn(KEY_B))

    assert last_a is not None and last_a.event_id == "event-5"
    assert last_b is not None and last_b.event_id == "event-5"
    assert queries.tracking_start() == START.timestamp() + 60


def test_alias_periods_follow_retargeting_and_deletion(database: Any) -> None:
    store = database.open()
    alias = Alias.create(
        account_id=ACCOUNT,
        region=REGION,
        alias_name="alias/app",
        target_key_id=KEY_A,
        now=START,
    )
    alias.retarget(KEY_B, START + timedelta(days=1))
    alias.delete(START + timedelta(days=2))
    alias.recreate(KEY_A, START + timedelta(days=3))
    store.save(alias)
    queries = AuditQueries(store)

    periods = queries.alias_periods("alias/app", ACCOUNT, REGION)
    elsewhere = queries.alias_periods("alias/app", "444455556666", None)

    assert [(p.key_id, p.start, p.end) for p in periods] == [
        (KEY_A, START, START + timedelta(days=1)),
        (KEY_B, START + timedelta(days=1), START + timedelta(days=2)),
        (KEY_A, START + timedelta(days=3), None),
    ]
    assert elsewhere == []
