"""Key and alias identifiers: the four forms a caller may name a key by.

AWS KMS accepts a key id, a key ARN, an alias name or an alias ARN. Which forms
an action takes is fixed per parameter (cryptographic actions and DescribeKey
take all four, management actions take only the key id and key ARN), so every
handler resolves through :func:`parse_key_reference` with the forms it allows.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from enum import Enum

from domain.errors import NotFoundException

_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MULTI_REGION_KEY_ID = re.compile(r"mrk-[0-9a-f]{32}")
# KeyLedger's keys and aliases are all in the aws partition, so an ARN of
# another partition (aws-cn, aws-us-gov) names none of them.
_ARN = re.compile(
    r"arn:aws:kms:(?P<region>[a-z0-9-]+):"
    r"(?P<account>[0-9]{12}):(?P<kind>key|alias)/(?P<name>.+)"
)
ALIAS_PREFIX = "alias/"
AWS_ALIAS_PREFIX = "alias/aws/"


class ReferenceForm(Enum):
    KEY_ID = "key id"
    KEY_ARN = "key ARN"
    ALIAS_NAME = "alias name"
    ALIAS_ARN = "alias ARN"


KEY_FORMS = frozenset({ReferenceForm.KEY_ID, ReferenceForm.KEY_ARN})
ALL_FORMS = frozenset(ReferenceForm)


@dataclass(frozen=True, slots=True)
class KeyReference:
    """A parsed KeyId parameter.

    ``account_id`` and ``region`` are set only for the ARN forms; the bare forms
    name a key in the caller's own account and Region.
    """

    form: ReferenceForm
    text: str
    key_id: str | None = None
    alias_name: str | None = None
    account_id: str | None = None
    region: str | None = None


def is_key_id(text: str) -> bool:
    return bool(_KEY_ID.fullmatch(text) or _MULTI_REGION_KEY_ID.fullmatch(text))


def new_key_id() -> str:
    return str(uuid.uuid4())


def random_uuid() -> str:
    """Return a random (version 4) UUID as text, as ``str(uuid.uuid4())`` does.

    Each request takes two (its request id and its record's event id), and
    formatting the hex directly costs a third of building a UUID object.
    """
    text = os.urandom(16).hex()
    # The version nibble is 4 and the variant's top two bits are 10.
    variant = "89ab"[int(text[16], 16) & 3]
    return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-{variant}{text[17:20]}-{text[20:]}"


def key_arn(region: str, account_id: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def alias_arn(region: str, account_id: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:{alias_name}"


def parse_key_reference(
    text: str, allowed: frozenset[ReferenceForm] = ALL_FORMS
) -> KeyReference:
    """Parse a KeyId parameter, or raise NotFoundException as AWS does.

    AWS answers an identifier it cannot use with NotFoundException ("Invalid
    keyId ..."), including an alias given where only key ids are accepted.
    """
    reference = _parse(text)
    if reference is None or reference.form not in allowed:
        raise NotFoundException(f"Invalid keyId '{text}'")
    return reference


def _parse(text: str) -> KeyReference | None:
    if text.startswith(ALIAS_PREFIX):
        if len(text) == len(ALIAS_PREFIX):
            return None
        return KeyReference(ReferenceForm.ALIAS_NAME, text, alias_name=text)
    if is_key_id(text):
        return KeyReference(ReferenceForm.KEY_ID, text, key_id=text)
    match = _ARN.fullmatch(text)
    if match is None:
        return None
    name = match["name"]
    if match["kind"] == "key":
        if not is_key_id(name):
            return None
        return KeyReference(
            ReferenceForm.KEY_ARN,
            text,
            key_id=name,
            account_id=match["account"],
            region=match["region"],
        )
    return KeyReference(
        ReferenceForm.ALIAS_ARN,
        text,
        alias_name=ALIAS_PREFIX + name,
        account_id=match["account"],
        region=match["region"],
    )
