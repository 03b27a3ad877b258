"""Key and identity policies must be strict JSON, read one way by everyone.

A document that another JSON reader would reject, or read differently (a
repeated member), is refused as MalformedPolicyDocumentException.
"""

from __future__ import annotations

import pytest

from domain.errors import MalformedPolicyDocumentException
from domain.policy import Policy, PolicyKind

VALID_STATEMENT = (
    '{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},'
    ' "Action": "kms:*", "Resource": "*"}'
)


@pytest.mark.parametrize(
    "text",
    [
        '{"Statement": [STATEMENT], "Extra": NaN}',
        '{"Statement": [STATEMENT], "Extra": Infinity}',
        '{"Statement": [STATEMENT], "Extra": 1e999}',
        '{"Statement": [STATEMENT], "Statement": []}',
    ],
    ids=["nan", "infinity", "overflow", "repeated-member"],
)
def test_non_strict_json_is_rejected(text: str) -> None:
    with pytest.raises(MalformedPolicyDocumentException) as error:
        Policy.parse(text.replace("STATEMENT", VALID_STATEMENT), PolicyKind.KEY)

    assert error.value.message == "The policy is not a valid JSON document."


def test_strict_json_is_accepted() -> None:
    text = '{"Version": "2012-10-17", "Statement": [' + VALID_STATEMENT + "]}"

    assert Policy.parse(text, PolicyKind.KEY).text == text
