"""The Principal and NotPrincipal elements of a policy statement.

From the IAM User Guide page "AWS JSON policy elements: Principal": an AWS
principal is ``*``, an account (its 12-digit id or ``arn:aws:iam::ID:root``,
which behave the same), or the exact ARN of an IAM user or role. A wildcard
never matches part of a principal. Service, federated and canonical-user
principals are valid but never name a KeyLedger caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from domain.errors import MalformedPolicyDocumentException

NO_PRINCIPAL = "Policy contains a statement with no principal."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."

_ACCOUNT_ID = re.compile(r"\d{12}")
_ROOT_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::(\d{12}):root")
_IDENTITY_ARN = re.compile(r"arn:aws(?:-cn|-us-gov)?:iam::\d{12}:(?:user|role)/[^*?]+")
_OTHER_PRINCIPAL_TYPES = frozenset({"Service", "Federated", "CanonicalUser"})


class PrincipalMatch(Enum):
    """The strength with which a Principal element names the caller, strongest first."""

    DIRECT = 1
    """By its exact ARN, by ``*``, or the account root by its account."""
    ACCOUNT = 2
    """By the caller's account only, and the caller is not that account's root."""
    NONE = 3


def _strings(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) for item in items):
        raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
    return items


@dataclass(frozen=True, slots=True)
class Principals:
    """The AWS principals one Principal or NotPrincipal element names."""

    everyone: bool
    account_ids: frozenset[str]
    arns: frozenset[str]

    @classmethod
    def parse(
        cls, element: Any, principal_exists: Callable[[str], bool] | None
    ) -> Principals:
        """Parse the element; a bad principal raises MalformedPolicyDocumentException.

        ``principal_exists`` is asked about each IAM user or role ARN, as AWS
        KMS requires the principals of a key policy to exist.
        """
        if element == "*":
            return cls(everyone=True, account_ids=frozenset(), arns=frozenset())
        if not isinstance(element, dict) or not element:
            raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)

        everyone = False
        account_ids: set[str] = set()
        arns: set[str] = set()
        for principal_type, raw in element.items():
            values = _strings(raw)
            if principal_type in _OTHER_PRINCIPAL_TYPES:
                continue
            if principal_type != "AWS":
                raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
            for value in values:
                root = _ROOT_ARN.fullmatch(value)
                if value == "*":
                    everyone = True
                elif _ACCOUNT_ID.fullmatch(value):
                    account_ids.add(value)
                elif root:
                    account_ids.add(root[1])
                elif _IDENTITY_ARN.fullmatch(value):
                    if principal_exists is not None and not principal_exists(value):
                        raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
                    arns.add(value)
                else:
                    raise MalformedPolicyDocumentException(INVALID_PRINCIPALS)
        return cls(everyone, frozenset(account_ids), frozenset(arns))

    def match(
        self, caller_arn: str, caller_account: str, caller_is_root: bool
    ) -> PrincipalMatch:
        if self.everyone or caller_arn in self.arns:
            return PrincipalMatch.DIRECT
        if caller_account in self.account_ids:
            return PrincipalMatch.DIRECT if caller_is_root else PrincipalMatch.ACCOUNT
        return PrincipalMatch.NONE

    def lists(self, caller_arn: str, caller_account: str, caller_is_root: bool) -> bool:
        """Tell whether NotPrincipal exempts the caller.

        Only the caller's own entry exempts it: listing an account exempts its
        root, not the account's users and roles.

        NOTE: the IAM guide warns that AWS may also require the caller's
        account in NotPrincipal to exempt a user or role. KeyLedger exempts on
        the caller's own ARN alone.
        """
        if self.everyone or caller_arn in self.arns:
            return True
        return caller_is_root and caller_account in self.account_ids


def is_root_arn(arn: str, account_id: str) -> bool:
    root = _ROOT_ARN.fullmatch(arn)
    return root is not None and root[1] == account_id
