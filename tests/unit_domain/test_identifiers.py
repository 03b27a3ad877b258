"""Parsing a KeyId parameter: the four forms, malformed text, allowed forms.

The forms and examples come from the KeyId parameter of Encrypt and of
DescribeKey (AWS KMS API reference): key ID, key ARN, alias name and alias
ARN, for example ``1234abcd-12ab-34cd-56ef-1234567890ab`` and
``arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias``. Multi-Region key
ids begin with ``mrk-``.
"""

from __future__ import annotations

import uuid

import pytest

from domain.errors import NotFoundException
from domain.identifiers import (
    ALL_FORMS,
    KEY_FORMS,
    KeyReference,
    ReferenceForm,
    alias_arn,
    is_key_id,
    key_arn,
    new_key_id,
    parse_key_reference,
    random_uuid,
)

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
MRK_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-2:111122223333:key/{KEY_ID}"
ALIAS_ARN = "arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias"

VALID = {
    KEY_ID: KeyReference(ReferenceForm.KEY_ID, KEY_ID, key_id=KEY_ID),
    MRK_ID: KeyReference(ReferenceForm.KEY_ID, MRK_ID, key_id=MRK_ID),
    KEY_ARN: KeyReference(
        ReferenceForm.KEY_ARN,
        KEY_ARN,
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-2",
    ),
    f"arn:aws:kms:us-east-2:111122223333:key/{MRK_ID}": KeyReference(
        ReferenceForm.KEY_ARN,
        f"arn:aws:kms:us-east-2:111122223333:key/{MRK_ID}",
        key_id=MRK_ID,
        account_id="111122223333",
        region="us-east-2",
    ),
    "alias/ExampleAlias": KeyReference(
        ReferenceForm.ALIAS_NAME, "alias/ExampleAlias", alias_name="alias/ExampleAlias"
    ),
    "alias/aws/ebs": KeyReference(
        ReferenceForm.ALIAS_NAME, "alias/aws/ebs", alias_name="alias/aws/ebs"
    ),
    ALIAS_ARN: KeyReference(
        ReferenceForm.ALIAS_ARN,
        ALIAS_ARN,
        alias_name="alias/ExampleAlias",
        account_id="111122223333",
        region="us-east-2",
    ),
    "arn:aws:kms:us-east-2:111122223333:alias/aws/ebs": KeyReference(
        ReferenceForm.ALIAS_ARN,
        "arn:aws:kms:us-east-2:111122223333:alias/aws/ebs",
        alias_name="alias/aws/ebs",
        account_id="111122223333",
        region="us-east-2",
    ),
}

MALFORMED = {
    "empty": "",
    "uppercase key id": KEY_ID.upper(),
    "key id without hyphens": KEY_ID.replace("-", ""),
    "key id one digit short": KEY_ID[:-1],
    "key id one digit long": KEY_ID + "c",
    "key id in braces": "{" + KEY_ID + "}",
    "key id as urn": "urn:uuid:" + KEY_ID,
    "key id with leading space": " " + KEY_ID,
    "key id with trailing newline": KEY_ID + "\n",
    "key id with non-hex digit": KEY_ID[:-1] + "g",
    "alias prefix alone": "alias/",
    "alias name without prefix": "ExampleAlias",
    "mrk prefix alone": "mrk-",
    "mrk id one digit short": MRK_ID[:-1],
    "mrk id uppercase": "mrk-" + MRK_ID[4:].upper(),
    "mrk prefix uppercase": "MRK-" + MRK_ID[4:],
    "mrk id with hyphens": "mrk-" + KEY_ID,
    "arn with 11-digit account": f"arn:aws:kms:us-east-2:11112222333:key/{KEY_ID}",
    "arn with 13-digit account": f"arn:aws:kms:us-east-2:1111222233334:key/{KEY_ID}",
    "arn with letters in account": f"arn:aws:kms:us-east-2:abcdefghijkl:key/{KEY_ID}",
    "arn with empty account": f"arn:aws:kms:us-east-2::key/{KEY_ID}",
    "arn with empty region": f"arn:aws:kms::111122223333:key/{KEY_ID}",
    "arn of another service": f"arn:aws:s3:us-east-2:111122223333:key/{KEY_ID}",
    "arn of an unknown partition": f"arn:azure:kms:us-east-2:111122223333:key/{KEY_ID}",
    # KeyLedger's keys are all in the aws partition.
    "arn of the aws-cn partition": (
        f"arn:aws-cn:kms:cn-north-1:111122223333:key/{KEY_ID}"
    ),
    "arn of the aws-us-gov partition": (
        f"arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/{KEY_ID}"
    ),
    "arn of key/alias/x": "arn:aws:kms:us-east-2:111122223333:key/alias/x",
    "arn of key with no id": "arn:aws:kms:us-east-2:111122223333:key/",
    "arn of key with bad id": "arn:aws:kms:us-east-2:111122223333:key/not-a-key",
    "arn of key with suffix": f"arn:aws:kms:us-east-2:111122223333:key/{KEY_ID}/x",
    "arn of alias with no name": "arn:aws:kms:us-east-2:111122223333:alias/",
    "arn of a grant": f"arn:aws:kms:us-east-2:111122223333:grant/{KEY_ID}",
    "partial arn": f"111122223333:key/{KEY_ID}",
    "resource part only": f"key/{KEY_ID}",
}


@pytest.mark.parametrize("text", list(VALID))
def test_valid_identifier_is_parsed(text: str) -> None:
    assert parse_key_reference(text) == VALID[text]


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_identifier_is_not_found(case: str) -> None:
    text = MALFORMED[case]

    with pytest.raises(NotFoundException) as caught:
        parse_key_reference(text)

    assert text in caught.value.message


def test_non_ascii_account_digits_not_found() -> None:
    arabic_indic_account = "\u0661" * 12
    text = f"arn:aws:kms:us-east-2:{arabic_indic_account}:key/{KEY_ID}"

    with pytest.raises(NotFoundException):
        parse_key_reference(text)


@pytest.mark.parametrize("text", ["alias/ExampleAlias", ALIAS_ARN])
def test_alias_rejected_where_keys_required(text: str) -> None:
    # Management actions such as EnableKey take only a key ID or key ARN
    # (EnableKey, AWS KMS API reference), so an alias there names no key.
    with pytest.raises(NotFoundException) as caught:
        parse_key_reference(text, KEY_FORMS)

    assert text in caught.value.message


@pytest.mark.parametrize("text", [KEY_ID, KEY_ARN, MRK_ID])
def test_key_forms_accepted_where_keys_required(text: str) -> None:
    assert parse_key_reference(text, KEY_FORMS) == VALID[text]


@pytest.mark.parametrize(
    ("text", "form"),
    [
        (KEY_ID, ReferenceForm.KEY_ID),
        (KEY_ARN, ReferenceForm.KEY_ARN),
        ("alias/ExampleAlias", ReferenceForm.ALIAS_NAME),
        (ALIAS_ARN, ReferenceForm.ALIAS_ARN),
    ],
)
def test_each_form_is_rejected_when_not_allowed(text: str, form: ReferenceForm) -> None:
    others = ALL_FORMS - {form}

    with pytest.raises(NotFoundException):
        parse_key_reference(text, others)
    assert parse_key_reference(text, frozenset({form})).form is form


def test_key_arn_format() -> None:
    assert key_arn("us-east-2", "111122223333", KEY_ID) == KEY_ARN


def test_alias_arn_format() -> None:
    assert alias_arn("us-east-2", "111122223333", "alias/ExampleAlias") == ALIAS_ARN


def test_new_key_ids_are_lowercase_uuids() -> None:
    key_ids = {new_key_id() for _ in range(100)}

    assert len(key_ids) == 100
    for key_id in key_ids:
        assert is_key_id(key_id)
        assert key_id == key_id.lower()
        assert parse_key_reference(key_id).form is ReferenceForm.KEY_ID


def test_random_uuid_is_version_4_text() -> None:
    texts = [random_uuid() for _ in range(2000)]

    parsed = [uuid.UUID(text) for text in texts]
    assert all(value.version == 4 for value in parsed)
    assert all(value.variant == uuid.RFC_4122 for value in parsed)
    # The text is the canonical lower-case form, as str(uuid.uuid4()) gives.
    assert [str(value) for value in parsed] == texts
    # All four variant digits (8, 9, a, b) occur, so no random bit is lost.
    assert {text[19] for text in texts} == set("89ab")
    assert len(set(texts)) == len(texts)
