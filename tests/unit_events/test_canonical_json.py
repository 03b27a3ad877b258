"""Records are serialized one way: sorted keys, no spaces, UTF-8 text.

canonical_json writes with orjson, and must write what the json module writes
with sort_keys, compact separators and ensure_ascii off, so that records
written before and after the change read alike.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from events.audit import canonical_json

RECORDS: list[Any] = [
    {
        "eventVersion": "1.11",
        "userIdentity": {"type": "Root", "principalId": "111122223333"},
        "requestParameters": {
            "keyId": "alias/ExampleAlias",
            "encryptionContext": {"Department": "10", "\u00e9t\u00e9": "\U0001f511"},
        },
        "responseElements": None,
        "readOnly": True,
        "resources": [{"ARN": "arn:aws:kms:us-east-2:111122223333:key/1"}],
        "count": 7,
    },
    {"b": 'quote " backslash \\ slash / tab \t newline \n', "a": "\x00\x1f\x7f"},
    {"line separators": "\u2028\u2029", "zero width": "\u200b", "nested": [[], {}]},
    {"negative": -5, "large": 2**63 - 1, "small": -(2**63), "false": False},
]


def json_module(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("record", RECORDS)
def test_record_serializes_as_json_module_does(record: Any) -> None:
    assert canonical_json(record) == json_module(record)


def test_integer_past_64_bits_serializes() -> None:
    record = {"big": 2**64, "name": "caf\u00e9"}

    assert canonical_json(record) == '{"big":18446744073709551616,"name":"café"}'
