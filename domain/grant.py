"""Rules of KMS grants: operations, constraints, principals and grant tokens.

The rules follow the AWS KMS API reference (CreateGrant, GrantConstraints,
ListGrants, RetireGrant, RevokeGrant) and the developer guide's "Grants in AWS
KMS", "Creating grants", "Managing grants" and "Key states of AWS KMS keys":

- A grant allows its grantee principal the grant operations it lists, on one
  key, and only operations that the key supports.
- EncryptionContextEquals and EncryptionContextSubset constraints apply to the
  operations that take an encryption context. In a constraint the key of each
  pair is not case sensitive and the value is.
- A grant can be retired by its retiring principal, by its grantee principal
  when it allows RetireGrant, and by the account that created it.
- A grant token names its grant, so RetireGrant can find a grant by token.

The Key aggregate keeps its grants and calls these rules from its grant
commands.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.errors import (
    InvalidArnException,
    InvalidGrantIdException,
    InvalidGrantTokenException,
    UnsupportedOperationException,
    ValidationException,
)

# "Grants per KMS key: 50,000" (developer guide, "Resource quotas").
MAX_GRANTS_PER_KEY = 50_000
# GrantConstraints and "Using grant constraints": each constraint holds up to
# 8 encryption context pairs, and its encryption context cannot exceed 384
# characters.
MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_CHARACTERS = 384

ENCRYPTION_CONTEXT_EQUALS = "EncryptionContextEquals"
ENCRYPTION_CONTEXT_SUBSET = "EncryptionContextSubset"

# Grant operations that take an EncryptionContext parameter, which is where
# encryption context constraints apply ("Grant operations" in "Grants in AWS
# KMS"; GrantConstraints).
ENCRYPTION_CONTEXT_OPERATIONS = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    }
)
# Grant operations valid for every key: constraints never apply to DescribeKey
# and RetireGrant, and CreateGrant passes them on to the grants it creates.
KEY_MANAGEMENT_OPERATIONS = frozenset({"CreateGrant", "DescribeKey", "RetireGrant"})
# The grant operations of a symmetric encryption key (key spec
# SYMMETRIC_DEFAULT, key usage ENCRYPT_DECRYPT), the only kind KeyLedger has.
SYMMETRIC_GRANT_OPERATIONS = ENCRYPTION_CONTEXT_OPERATIONS | KEY_MANAGEMENT_OPERATIONS

_GRANT_ID = re.compile(r"[0-9a-f]{64}")
GRANT_ID_BYTES = 32

# IAM principals a grant may name ("IAM ARNs" in the IAM User Guide): an
# account root, an IAM user or role, a federated user or an assumed-role
# session, all in the aws partition like KeyLedger's keys.
_IAM_PRINCIPAL = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):(root|user/.+|role/.+)"
    r"|arn:aws:sts::(?P<sts_account>[0-9]{12}):(assumed-role/.+/.+|federated-user/.+)"
)
# An AWS service principal such as dynamodb.us-west-2.amazonaws.com, which
# ListGrants shows as the grantee of grants that services create.
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com")
_ASSUMED_ROLE = re.compile(r"arn:aws:sts::([0-9]{12}):assumed-role/([^/]+)/.+")
_ROLE = re.compile(r"arn:aws:iam::([0-9]{12}):role/(?:.+/)?([^/]+)")

# A grant token: a version byte, the key's UUID, the grant id and random bytes
# that make every token unique, in unpadded base64url.
_TOKEN_VERSION = 1
_TOKEN_RANDOM_BYTES = 16
_TOKEN_LENGTH = 1 + 16 + GRANT_ID_BYTES + _TOKEN_RANDOM_BYTES
# The InvalidGrantTokenException description in the KMS service model.
INVALID_GRANT_TOKEN_MESSAGE = (
    "The request was rejected because the specified grant token is not valid."  # noqa: S105
)

RandomSource = Callable[[int], bytes]


def account_root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


# Principals.


def check_principal(text: str, parameter: str, allow_service: bool = False) -> None:
    """Raise InvalidArnException unless ``text`` is a principal a grant may name.

    A grant may name principals of other accounts, which KeyLedger's
    credentials file need not declare. So this checks the form of the ARN,
    where AWS also checks that the identity exists.

    NOTE: AWS returns InvalidArnException for a principal it cannot resolve;
    the wording of its message is not confirmed.
    """
    if _IAM_PRINCIPAL.fullmatch(text):
        return
    if allow_service and _SERVICE_PRINCIPAL.fullmatch(text):
        return
    raise InvalidArnException(
        f"ARN does not refer to a valid principal: {text} (in {parameter})"
    )


def principal_account(text: str) -> str | None:
    """Return the account id of an IAM principal ARN, or None for other principals."""
    match = _IAM_PRINCIPAL.fullmatch(text)
    if match is None:
        return None
    return match["account"] or match["sts_account"]


def principal_key(arn: str) -> str:
    """Reduce a principal ARN to the identity it stands for.

    A role's sessions act as the role ("arn:aws:sts::A:assumed-role/R/S" is
    role R), and a role name is unique in its account whatever its path, so
    both forms become "arn:aws:iam::A:role/R". Other ARNs stay as they are.
    """
    match = _ASSUMED_ROLE.fullmatch(arn) or _ROLE.fullmatch(arn)
    if match is None:
        return arn
    return f"arn:aws:iam::{match[1]}:role/{match[2]}"


def principal_matches(named: str, principal_arn: str) -> bool:
    """Tell whether the principal a grant names is the caller itself."""
    return named == principal_arn or principal_key(named) == principal_key(
        principal_arn
    )


# Operations.


def check_grant_operations(
    operations: Sequence[str], key_spec: str, key_arn: str
) -> None:
    """Raise ValidationException for an operation the key does not support.

    "Grants in AWS KMS": "If you specify an unsupported operation, the
    CreateGrant request fails with a ValidationError exception."

    NOTE: AWS's message for this case is not confirmed.
    """
    from domain.key import SYMMETRIC_DEFAULT

    supported = SYMMETRIC_GRANT_OPERATIONS if key_spec == SYMMETRIC_DEFAULT else None
    for operation in operations:
        if supported is None or operation not in supported:
            raise ValidationException(
                f"The grant operation {operation} is not valid for {key_arn}, "
                f"whose key spec is {key_spec}."
            )


# Constraints.


@dataclass(frozen=True, slots=True)
class GrantConstraints:
    """The encryption context constraints of a grant, each None when absent."""

    encryption_context_equals: Mapping[str, str] | None = None
    encryption_context_subset: Mapping[str, str] | None = None

    @classmethod
    def from_wire(cls, constraints: Mapping[str, Any] | None) -> GrantConstraints:
        """Check a Constraints parameter and return its constraints."""
        if not constraints:
            return cls()
        if constraints.get("SourceArn") is not None:
            # TODO: the SourceArn constraint, once requests carry the
            # aws:SourceArn of the AWS service that sends them.
            raise UnsupportedOperationException(
                "KeyLedger does not support the SourceArn grant constraint yet."
            )
        equals = constraints.get(ENCRYPTION_CONTEXT_EQUALS)
        subset = constraints.get(ENCRYPTION_CONTEXT_SUBSET)
        for name, pairs in (
            (ENCRYPTION_CONTEXT_EQUALS, equals),
            (ENCRYPTION_CONTEXT_SUBSET, subset),
        ):
            if pairs is not None:
                _check_constraint_size(name, pairs)
        return cls(
            dict(equals) if equals is not None else None,
            dict(subset) if subset is not None else None,
        )

    @property
    def empty(self) -> bool:
        return (
            self.encryption_context_equals is None
            and self.encryption_context_subset is None
        )

    def to_wire(self) -> dict[str, dict[str, str]]:
        wire: dict[str, dict[str, str]] = {}
        if self.encryption_context_equals is not None:
            wire[ENCRYPTION_CONTEXT_EQUALS] = dict(self.encryption_context_equals)
        if self.encryption_context_subset is not None:
            wire[ENCRYPTION_CONTEXT_SUBSET] = dict(self.encryption_context_subset)
        return wire

    def allow(self, encryption_context: Mapping[str, str] | None) -> bool:
        """Tell whether a request's encryption context meets every constraint.

        GrantConstraints: the key of each pair is not case sensitive and the
        value is. Equals needs the same pairs, in any order; Subset needs the
        constraint's pairs among the request's, which may have more.
        """
        request = _fold_keys(encryption_context or {})
        if request is None:
            # Two request keys that differ only by case cannot be matched
            # pair for pair against a constraint.
            return self.empty
        equals = self.encryption_context_equals
        if equals is not None and _fold_keys(equals) != request:
            return False
        subset = self.encryption_context_subset
        return subset is None or _includes(request, subset)

    def at_least_as_strict_as(self, parent: GrantConstraints) -> bool:
        """Tell whether a child grant's constraints keep its parent grant's.

        "Granting CreateGrant permission": a child grant can add pairs to a
        Subset constraint but not remove them, and can change Subset to
        Equals but not the reverse.
        """
        child_equals = self.encryption_context_equals
        child_subset = self.encryption_context_subset
        if parent.encryption_context_equals is not None and (
            child_equals is None
            or _fold_keys(child_equals) is None
            or _fold_keys(child_equals) != _fold_keys(parent.encryption_context_equals)
        ):
            return False
        if parent.encryption_context_subset is not None:
            held = child_equals if child_equals is not None else child_subset
            folded = _fold_keys(held) if held is not None else None
            if folded is None or not _includes(
                folded, parent.encryption_context_subset
            ):
                return False
        return True


def _fold_keys(pairs: Mapping[str, str]) -> dict[str, str] | None:
    """Return the pairs with lower-case keys, or None if two keys collide."""
    folded = {key.lower(): value for key, value in pairs.items()}
    return folded if len(folded) == len(pairs) else None


def _includes(folded: Mapping[str, str], required: Mapping[str, str]) -> bool:
    """Tell whether pairs with lower-case keys include every required pair."""
    return all(folded.get(key.lower()) == value for key, value in required.items())


def _check_constraint_size(name: str, pairs: Mapping[str, str]) -> None:
    # NOTE: AWS's messages for these limits are not confirmed. "The encryption
    # context value in each constraint cannot exceed 384 characters" is read
    # here as the characters of all keys and values of the constraint.
    if len(pairs) > MAX_CONSTRAINT_PAIRS:
        raise ValidationException(
            f"The {name} grant constraint has {len(pairs)} encryption context "
            f"pairs; the maximum is {MAX_CONSTRAINT_PAIRS}."
        )
    characters = sum(len(key) + len(value) for key, value in pairs.items())
    if characters > MAX_CONSTRAINT_CHARACTERS:
        raise ValidationException(
            f"The {name} grant constraint has {characters} characters of "
            f"encryption context; the maximum is {MAX_CONSTRAINT_CHARACTERS}."
        )


# Grants.


@dataclass(frozen=True, slots=True)
class Grant:
    """One grant on a key, as ListGrants describes it."""

    grant_id: str
    key_id: str
    name: str | None
    grantee_principal: str
    retiring_principal: str | None
    operations: tuple[str, ...]
    constraints: GrantConstraints
    issuing_account: str
    """The ARN of the root of the account that created the grant."""
    creation_date: datetime
    position: int = field(default=0, compare=False)
    """The key's version when the grant was created; orders ListGrants pages."""

    def allows(
        self, operation: str, encryption_context: Mapping[str, str] | None
    ) -> bool:
        """Tell whether the grant allows ``operation`` with this encryption context.

        Constraints apply only to operations that take an encryption context;
        CreateGrant's child grants are checked by :meth:`allows_child_grant`.
        """
        if operation not in self.operations:
            return False
        if operation not in ENCRYPTION_CONTEXT_OPERATIONS:
            return True
        return self.constraints.allow(encryption_context)

    def allows_child_grant(
        self, operations: Iterable[str], constraints: GrantConstraints
    ) -> bool:
        """Tell whether the grantee may create this grant with CreateGrant
        permission that comes from this grant."""
        return (
            "CreateGrant" in self.operations
            and set(operations) <= set(self.operations)
            and constraints.at_least_as_strict_as(self.constraints)
        )

    @property
    def grantee_is_account(self) -> bool:
        """True when the grantee principal is an account root ARN.

        NOTE: such a grant covers the identities of that account (the grantee
        "can represent one or more identities", "Grants in AWS KMS"); like an
        account principal in a key policy, AWS then also requires each
        identity's IAM policy to allow the operation. Authorization must apply
        that for callers other than the root itself.
        """
        account = principal_account(self.grantee_principal)
        return account is not None and self.grantee_principal == account_root_arn(
            account
        )

    def grantee_matches(self, principal_arn: str, account_id: str) -> bool:
        """Tell whether the caller is the grantee principal or is covered by it.

        The caller matches a grant to its own ARN, to its role when it is a
        session of that role, and to the root of its own account (see
        :attr:`grantee_is_account`).
        """
        if principal_matches(self.grantee_principal, principal_arn):
            return True
        return self.grantee_principal == account_root_arn(account_id) and (
            principal_account(principal_arn) == account_id
        )

    def can_be_retired_by(self, principal_arn: str) -> bool:
        """Tell whether RetireGrant by this caller is allowed by the grant itself.

        "Retiring and revoking grants": the retiring principal, the grantee
        principal if the grant allows RetireGrant, and the account in which
        the grant was created.

        NOTE: AWS also lets IAM identities retire a grant when an IAM policy
        delegates kms:RetireGrant to them; that needs identity policies.
        """
        if self.retiring_principal is not None and principal_matches(
            self.retiring_principal, principal_arn
        ):
            return True
        if "RetireGrant" in self.operations and principal_matches(
            self.grantee_principal, principal_arn
        ):
            return True
        return principal_arn == self.issuing_account

    def repeats(
        self,
        name: str | None,
        grantee_principal: str,
        retiring_principal: str | None,
        operations: Iterable[str],
        constraints: GrantConstraints,
    ) -> bool:
        """Tell whether a CreateGrant request is a retry that made this grant.

        CreateGrant: with a Name, a retry "with identical parameters" returns
        the original GrantId. Without a Name every request makes a new grant.

        NOTE: AWS does not say whether the order of Operations counts; here
        it does not.
        """
        return (
            name is not None
            and self.name == name
            and self.grantee_principal == grantee_principal
            and self.retiring_principal == retiring_principal
            and set(self.operations) == set(operations)
            and self.constraints == constraints
        )


def new_grant_id(random: RandomSource) -> str:
    """Return a grant id: 64 lower-case hex characters, as AWS's grant ids are."""
    return random(GRANT_ID_BYTES).hex()


def check_grant_id(grant_id: str) -> None:
    """Raise InvalidGrantIdException for a GrantId no grant can have.

    NOTE: AWS's message is not confirmed; this is the exception's description
    in the KMS service model.
    """
    if not _GRANT_ID.fullmatch(grant_id):
        raise InvalidGrantIdException(
            "The request was rejected because the specified GrantId is not valid."
        )


# Grant tokens.


def make_grant_token(key_id: str, grant_id: str, random: RandomSource) -> str:
    """Return a new grant token for the grant: unique on every call."""
    payload = (
        bytes([_TOKEN_VERSION])
        + uuid.UUID(key_id).bytes
        + bytes.fromhex(grant_id)
        + random(_TOKEN_RANDOM_BYTES)
    )
    return base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")


def parse_grant_token(text: str) -> tuple[str, str]:
    """Return the key id and grant id a grant token names.

    Raises InvalidGrantTokenException for text this server never issued as a
    token. The token is not a secret ("Grant token", developer guide), so it
    is not signed: it only names a grant, and whether that grant allows the
    request is checked as for any grant.
    """
    try:
        padded = text + "=" * (-len(text) % 4)
        payload = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidGrantTokenException(INVALID_GRANT_TOKEN_MESSAGE) from None
    if len(payload) != _TOKEN_LENGTH or payload[0] != _TOKEN_VERSION:
        raise InvalidGrantTokenException(INVALID_GRANT_TOKEN_MESSAGE)
    key_id = str(uuid.UUID(bytes=payload[1:17]))
    grant_id = payload[17 : 17 + GRANT_ID_BYTES].hex()
    return key_id, grant_id


def check_grant_tokens(tokens: Sequence[str] | None) -> None:
    """Raise InvalidGrantTokenException unless every token is well formed.

    A grant is effective as soon as CreateGrant returns, so a valid token
    adds nothing to a request. This only rejects tokens that name no grant.
    """
    for token in tokens or ():
        parse_grant_token(token)


class GranteeIndex:
    """The grant ids of a key by grantee identity, so a caller's grants are
    found without scanning every grant."""

    def __init__(self) -> None:
        self._grant_ids: dict[str, set[str]] = {}

    def add(self, grant: Grant) -> None:
        key = principal_key(grant.grantee_principal)
        self._grant_ids.setdefault(key, set()).add(grant.grant_id)

    def remove(self, grant: Grant) -> None:
        key = principal_key(grant.grantee_principal)
        grant_ids = self._grant_ids.get(key)
        if grant_ids is not None:
            grant_ids.discard(grant.grant_id)
            if not grant_ids:
                del self._grant_ids[key]

    def candidates(self, principal_arn: str, account_id: str) -> set[str]:
        """Return the ids of grants whose grantee may cover this caller."""
        found: set[str] = set()
        for key in (principal_key(principal_arn), account_root_arn(account_id)):
            found |= self._grant_ids.get(key, set())
        return found
