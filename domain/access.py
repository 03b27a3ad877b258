"""Whether a principal may perform an action, decided in AWS KMS's order.

An explicit deny in any policy wins. Otherwise a KMS key's own key policy
decides first: a statement that names the principal allows on its own; one
that names only the principal's account delegates to the account, so the
principal's identity policy must allow too. A principal of another account
always needs both. A grant for the principal allows what it lists, whatever
the policies say, unless a policy denies. Actions on no key (CreateKey,
ListKeys, ...) are decided by the identity policy alone.

The account root is never restricted by an identity policy: it holds every
permission in its own account, as in IAM, and reaches a key only when the
key policy allows the account.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from domain.policy import AccessRequest, Match, Policy
from domain.principal import Principal


class DenialReason(StrEnum):
    """The reason for a denial, in the words of AWS's AccessDeniedException message."""

    KEY_POLICY_DENIES = "with an explicit deny in a resource-based policy"
    IDENTITY_POLICY_DENIES = "with an explicit deny in an identity-based policy"
    NO_KEY_POLICY_ALLOWS = "because no resource-based policy allows the {action} action"
    NO_IDENTITY_POLICY_ALLOWS = (
        "because no identity-based policy allows the {action} action"
    )

    def explain(self, action: str) -> str:
        return self.value.format(action=action)


def decide_for_account(
    principal: Principal, request: AccessRequest
) -> DenialReason | None:
    """Decide an action that acts on no key, which only identity policies govern."""
    if principal.is_account_root:
        return None
    identity = _identity_match(principal, request)
    if identity is Match.DENY:
        return DenialReason.IDENTITY_POLICY_DENIES
    if identity is Match.ALLOW:
        return None
    return DenialReason.NO_IDENTITY_POLICY_ALLOWS


def decide_for_key(
    principal: Principal,
    request: AccessRequest,
    key_account_id: str,
    key_policy: Policy,
    grant_allows: Callable[[], bool],
) -> DenialReason | None:
    """Decide an action on a KMS key; return None when it is allowed.

    ``grant_allows`` is called only when no policy allows, because on a busy
    key the policies decide almost every request and grants are the rare path.
    """
    by_key_policy = key_policy.evaluate(request)
    if by_key_policy is Match.DENY:
        return DenialReason.KEY_POLICY_DENIES
    identity = (
        Match.ALLOW
        if principal.is_account_root
        else _identity_match(principal, request)
    )
    if identity is Match.DENY:
        return DenialReason.IDENTITY_POLICY_DENIES

    same_account = principal.account_id == key_account_id
    if by_key_policy is Match.ALLOW and same_account:
        return None
    if by_key_policy is not Match.NONE and identity is Match.ALLOW:
        return None
    if grant_allows():
        return None
    if by_key_policy is Match.NONE:
        return DenialReason.NO_KEY_POLICY_ALLOWS
    return DenialReason.NO_IDENTITY_POLICY_ALLOWS


def _identity_match(principal: Principal, request: AccessRequest) -> Match:
    if principal.identity_policy is None:
        return Match.NONE
    return principal.identity_policy.evaluate(request)
