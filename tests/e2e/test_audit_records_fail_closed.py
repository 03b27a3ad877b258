"""A request whose audit record cannot be written fails, and shows nothing.

A database trigger refuses the records of one action, so the store fails
exactly where the record is written. The request must then get
KMSInternalException (HTTP 500) without its plaintext, and a lifecycle
change whose record is refused must leave no event behind.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

from tests.e2e.conftest import StoreReader

INTERNAL_ERROR = "KMSInternalException"


def refuse_records_of(reader: StoreReader, event_name: str) -> None:
    """Make every insert of a record for ``event_name`` fail in the database."""
    if reader.is_postgres:
        reader.query(
            "CREATE FUNCTION refuse_audit_record() RETURNS trigger"
            " LANGUAGE plpgsql AS $body$ BEGIN"
            f" IF NEW.event_name = '{event_name}' THEN"
            " RAISE EXCEPTION 'audit record refused by test';"
            " END IF; RETURN NEW; END $body$"
        )
        reader.query(
            "CREATE TRIGGER refuse_audit_record BEFORE INSERT ON keyledger_audit"
            " FOR EACH ROW EXECUTE FUNCTION refuse_audit_record()"
        )
        return
    reader.query(
        "CREATE TRIGGER refuse_audit_record BEFORE INSERT ON keyledger_audit"
        f" WHEN NEW.event_name = '{event_name}'"
        " BEGIN SELECT RAISE(ABORT, 'audit record refused by test'); END"
    )


def recorded_names(reader: StoreReader) -> list[str]:
    return [
        str(row[0])
        for row in reader.query("SELECT event_name FROM keyledger_audit ORDER BY seq")
    ]


def test_decrypt_fails_closed_without_plaintext(
    fresh_server_factory: Any, raw_for: Any, kms_error_check: Any
) -> None:
    server = fresh_server_factory()
    raw = raw_for(server)
    reader = StoreReader(server)
    plaintext = b"plaintext that must not leave without a record"
    key_id = raw.ok("CreateKey", {})["KeyMetadata"]["KeyId"]
    blob = raw.ok(
        "Encrypt",
        {"KeyId": key_id, "Plaintext": base64.b64encode(plaintext).decode()},
    )["CiphertextBlob"]
    refuse_records_of(reader, "Decrypt")

    response = raw.call("Decrypt", {"CiphertextBlob": blob})

    kms_error_check(response, INTERNAL_ERROR, status=500)
    assert plaintext not in response.body
    assert base64.b64encode(plaintext) not in response.body
    assert "Decrypt" not in recorded_names(reader)

    # Other actions still get their records and their answers.
    again = raw.call("Encrypt", {"KeyId": key_id, "Plaintext": "eA=="})
    assert again.status == 200
    assert recorded_names(reader).count("Encrypt") == 2


def test_lifecycle_change_without_record_leaves_no_event(
    fresh_server_factory: Any, raw_for: Any, kms_error_check: Any
) -> None:
    server = fresh_server_factory()
    raw = raw_for(server)
    reader = StoreReader(server)
    key_id = raw.ok("CreateKey", {"Description": "before"})["KeyMetadata"]["KeyId"]
    topics_before = reader.event_topics(key_id)
    refuse_records_of(reader, "UpdateKeyDescription")

    response = raw.call(
        "UpdateKeyDescription", {"KeyId": key_id, "Description": "after"}
    )

    kms_error_check(response, INTERNAL_ERROR, status=500)
    assert reader.event_topics(key_id) == topics_before
    assert "UpdateKeyDescription" not in recorded_names(reader)
    described = raw.ok("DescribeKey", {"KeyId": key_id})
    assert described["KeyMetadata"]["Description"] == "before"

    # The chain still links every record that was written.
    rows = reader.query("SELECT seq, prev_hash, hash FROM keyledger_audit ORDER BY seq")
    assert [int(row[0]) for row in rows] == list(range(1, len(rows) + 1))
    for earlier, later in itertools.pairwise(rows):
        assert later[1] == earlier[2]
    assert recorded_names(reader) == ["CreateKey", "DescribeKey"]
