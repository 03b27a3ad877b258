"""Key policy checks shared by CreateKey and PutKeyPolicy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.access import decide_for_key
from domain.errors import MalformedPolicyDocumentException, NotFoundException
from domain.key import Key
from domain.policy import AccessRequest, Policy, PolicyKind
from domain.principal import Caller
from functions.access import key_request_context
from functions.services import Services

DEFAULT_POLICY_NAME = "default"
LOCKOUT_MESSAGE = (
    "The new key policy will not allow you to update the key policy in the future."
)


def parse_key_policy(services: Services, text: str) -> Policy:
    """Parse a key policy and reject one that AWS rejects, such as one that
    names an IAM user or role that does not exist."""
    return Policy.parse(
        text, PolicyKind.KEY, services.verifier.credentials.principal_exists
    )


def check_policy_name(params: Mapping[str, Any]) -> None:
    """A key has one key policy, named ``default``."""
    name = params.get("PolicyName", DEFAULT_POLICY_NAME)
    if name != DEFAULT_POLICY_NAME:
        # NOTE: AWS documents "default" as the only valid name but not the
        # error for another one; NotFoundException is the closest fit.
        raise NotFoundException(
            f"No key policy named {name} exists. The only key policy name is "
            f"{DEFAULT_POLICY_NAME}."
        )


def check_lockout(
    services: Services,
    caller: Caller,
    policy: Policy,
    key: Key | None,
    key_arn: str,
    params: Mapping[str, Any],
) -> None:
    """Reject a policy under which the caller could not call PutKeyPolicy again.

    The check evaluates the new policy against this very request, with every
    condition key it carries, as a PutKeyPolicy on the key (``key`` is None
    for CreateKey, whose key does not exist yet). ``BypassPolicyLockoutSafety
    Check`` skips it, as in AWS. Grants cannot allow PutKeyPolicy, so only the
    policies are asked.
    """
    if params.get("BypassPolicyLockoutSafetyCheck"):
        return
    principal = caller.principal
    context = key_request_context(services, caller, "PutKeyPolicy", key, params)
    request = AccessRequest(
        principal_arn=principal.arn,
        principal_account=principal.account_id,
        action="kms:PutKeyPolicy",
        resource=key_arn,
        context=context,
    )
    key_account_id = key_arn.split(":")[4]
    if decide_for_key(principal, request, key_account_id, policy, lambda: False):
        raise MalformedPolicyDocumentException(LOCKOUT_MESSAGE)
