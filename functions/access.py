"""Access checks for every action, with the condition keys of its request.

Each handler calls one of these before it acts: ``authorize_key`` for an action on a
KMS key (the key policy, the caller's identity policy and the key's grants
decide), ``authorize_account`` for an action on no key, which only identity
policies govern. The request's condition keys are gathered only when a
policy has a condition to test, so the default key policy costs no more
than matching one statement.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC
from typing import Any

from domain.access import DenialReason, decide_for_account, decide_for_key
from domain.errors import AccessDeniedException
from domain.grant import GrantConstraints
from domain.key import Key
from domain.policy import AccessRequest, Match
from domain.principal import Caller
from functions.audit import note_key
from functions.services import Services

# Operations whose request's EncryptionContext member a policy condition on
# kms:EncryptionContext tests, by the name of the permission checked.
_CONTEXT_MEMBER = {
    "Decrypt": "EncryptionContext",
    "Encrypt": "EncryptionContext",
    "GenerateDataKey": "EncryptionContext",
    "GenerateDataKeyWithoutPlaintext": "EncryptionContext",
    "GenerateDataKeyPair": "EncryptionContext",
    "GenerateDataKeyPairWithoutPlaintext": "EncryptionContext",
    "ReEncryptFrom": "SourceEncryptionContext",
    "ReEncryptTo": "DestinationEncryptionContext",
}
_ALGORITHM_MEMBER = {
    "Decrypt": "EncryptionAlgorithm",
    "Encrypt": "EncryptionAlgorithm",
    "ReEncryptFrom": "SourceEncryptionAlgorithm",
    "ReEncryptTo": "DestinationEncryptionAlgorithm",
}
# The values AWS puts in a condition key when the request leaves the member out.
_DEFAULT_ALGORITHM = "SYMMETRIC_DEFAULT"
# The maximum number of readings of an encryption context whose keys differ
# only by case that the access check evaluates, one by one.
_MAX_READINGS = 64
_DEFAULT_ROTATION_PERIOD_IN_DAYS = "365"
_DEFAULT_PENDING_WINDOW_IN_DAYS = "30"


class RequestContext(Mapping[str, "str | tuple[str, ...]"]):
    """The condition keys of one request, gathered on first use.

    Names are lower-cased, as the policy evaluator expects; values keep
    their case.
    """

    __slots__ = ("_gather", "_values")

    def __init__(self, gather: Callable[[], dict[str, str | tuple[str, ...]]]) -> None:
        self._gather = gather
        self._values: dict[str, str | tuple[str, ...]] | None = None

    def _all(self) -> dict[str, str | tuple[str, ...]]:
        if self._values is None:
            self._values = self._gather()
        return self._values

    def __getitem__(self, name: str) -> str | tuple[str, ...]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def authorize_key(
    services: Services,
    caller: Caller,
    permission: str,
    key: Key,
    params: Mapping[str, Any],
    request_alias: str | None = None,
    extra: Mapping[str, str] | None = None,
    denied_error: Callable[[], AccessDeniedException] | None = None,
) -> None:
    """Raise AccessDeniedException unless ``caller`` may do ``permission`` on ``key``.

    ``permission`` is the action's name in policies without the ``kms:``
    prefix; ReEncrypt checks ReEncryptFrom on its source key and ReEncryptTo
    on its destination key. ``denied_error`` builds the error for actions whose
    denial AWS words differently.
    """
    note_key(key.arn)
    readings = _readings(permission, params)
    reason = DenialReason.NO_KEY_POLICY_ALLOWS if not readings else None
    for readable in readings:
        reason = _decide_for_key(
            services, caller, permission, key, readable, params, request_alias, extra
        )
        if reason is not None:
            break
    if reason is not None:
        if denied_error is not None:
            raise denied_error()
        raise access_denied(caller, permission, key.arn, reason)


def key_request_context(
    services: Services,
    caller: Caller,
    permission: str,
    key: Key | None,
    params: Mapping[str, Any],
    request_alias: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> RequestContext:
    """Gather, on first use, the condition keys of a request on ``key``.

    With no key yet (CreateKey), the key's condition keys come from the
    request's parameters.
    """

    def gather() -> dict[str, str | tuple[str, ...]]:
        values = _caller_keys(services, caller)
        if key is not None:
            _add_key_keys(services, key, values)
        else:
            _add_new_key_keys(params, values)
        _add_request_keys(permission, params, values)
        if request_alias is not None:
            values["kms:requestalias"] = request_alias
        if extra:
            values.update(extra)
        return values

    return RequestContext(gather)


def _decide_for_key(
    services: Services,
    caller: Caller,
    permission: str,
    key: Key,
    readable: Mapping[str, Any],
    params: Mapping[str, Any],
    request_alias: str | None,
    extra: Mapping[str, str] | None,
) -> DenialReason | None:
    principal = caller.principal
    request = AccessRequest(
        principal_arn=principal.arn,
        principal_account=principal.account_id,
        action="kms:" + permission,
        resource=key.arn,
        context=key_request_context(
            services, caller, permission, key, readable, request_alias, extra
        ),
    )
    return decide_for_key(
        principal,
        request,
        key.account_id,
        key.key_policy,
        lambda: _grant_allows(key, caller, permission, params, request),
    )


def _readings(permission: str, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the request's parameters once for each way a policy can read them.

    Condition key names ignore case, so an encryption context whose keys
    differ only by case ("tenant" and "TENANT") gives kms:EncryptionContext:
    tenant more than one value. Each reading keeps one of them, and the
    request is allowed only when every reading is, so neither an Allow nor a
    Deny can depend on the order of the pairs. An empty list means too many
    readings to try, and the request is denied.
    """
    member = _CONTEXT_MEMBER.get(permission)
    context = params.get(member) if member else None
    if member is None or not context:
        return [params]
    groups: dict[str, list[str]] = {}
    for name in context:
        groups.setdefault(name.lower(), []).append(name)
    if len(groups) == len(context):
        return [params]
    choices = list(groups.values())
    if math.prod(len(names) for names in choices) > _MAX_READINGS:
        return []
    return [
        {**params, member: {name: context[name] for name in picked}}
        for picked in itertools.product(*choices)
    ]


def authorize_account(
    services: Services,
    caller: Caller,
    permission: str,
    params: Mapping[str, Any],
    resource: str = "*",
) -> None:
    """Raise AccessDeniedException unless the caller's identity policy allows
    ``permission`` on ``resource``, for actions that act on no KMS key."""
    principal = caller.principal
    if principal.is_account_root:
        return

    def gather() -> dict[str, str | tuple[str, ...]]:
        values = _caller_keys(services, caller)
        _add_request_keys(permission, params, values)
        return values

    request = AccessRequest(
        principal_arn=principal.arn,
        principal_account=principal.account_id,
        action="kms:" + permission,
        resource=resource,
        context=RequestContext(gather),
    )
    reason = decide_for_account(principal, request)
    if reason is not None:
        raise access_denied(caller, permission, resource, reason)


def access_denied(
    caller: Caller,
    permission: str,
    resource: str,
    reason: DenialReason = DenialReason.NO_KEY_POLICY_ALLOWS,
) -> AccessDeniedException:
    action = "kms:" + permission
    return AccessDeniedException(
        f"User: {caller.principal.arn} is not authorized to perform: {action} "
        f"on resource: {resource} {reason.explain(action)}"
    )


def _grant_allows(
    key: Key,
    caller: Caller,
    permission: str,
    params: Mapping[str, Any],
    request: AccessRequest,
) -> bool:
    if not key.grants:
        return False
    principal = caller.principal
    member = _CONTEXT_MEMBER.get(permission)
    context = params.get(member) if member else None
    child: tuple[list[str], GrantConstraints] | None = None
    if permission == "CreateGrant":
        # A grant that allows CreateGrant allows only grants no wider than
        # itself ("Granting CreateGrant permission").
        child = (
            list(params.get("Operations", ())),
            GrantConstraints.from_wire(params.get("Constraints")),
        )
    for grant in key.grants_for(principal.arn, principal.account_id):
        if not grant.allows(permission, context):
            continue
        if child is not None and not grant.allows_child_grant(*child):
            continue
        if grant.grantee_is_account and not principal.is_account_root:
            # A grant to an account is a grant to IAM in that account, which
            # must pass it on to the caller in an identity policy ("Grant
            # concepts", grantee principal).
            policy = principal.identity_policy
            if policy is None or policy.evaluate(request) is not Match.ALLOW:
                continue
        return True
    return False


def _caller_keys(
    services: Services, caller: Caller
) -> dict[str, str | tuple[str, ...]]:
    principal = caller.principal
    now = services.clock.now().astimezone(UTC)
    values: dict[str, str | tuple[str, ...]] = {
        "kms:calleraccount": principal.account_id,
        "aws:principalarn": principal.arn,
        "aws:principalaccount": principal.account_id,
        "aws:principaltype": "Account"
        if principal.is_account_root
        else _principal_type(principal.arn),
        "aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(now.timestamp())),
        "aws:requestedregion": caller.region,
        "aws:securetransport": "false",
    }
    if caller.source_ip:
        values["aws:sourceip"] = caller.source_ip
    return values


def _principal_type(arn: str) -> str:
    return "AssumedRole" if ":role/" in arn else "User"


def _add_key_keys(
    services: Services, key: Key, values: dict[str, str | tuple[str, ...]]
) -> None:
    values["kms:keyspec"] = key.key_spec
    values["kms:customermasterkeyspec"] = key.key_spec
    values["kms:keyusage"] = key.key_usage
    values["kms:customermasterkeyusage"] = key.key_usage
    values["kms:keyorigin"] = key.origin
    values["kms:multiregion"] = "true" if key.multi_region else "false"
    values["kms:resourcealiases"] = tuple(services.store.alias_names_of_key(key.key_id))
    for tag_key, tag_value in key.tags.items():
        values["aws:resourcetag/" + tag_key.lower()] = tag_value


def _add_request_keys(
    permission: str, params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    member = _CONTEXT_MEMBER.get(permission)
    if member is not None:
        context = params.get(member) or {}
        for name, value in context.items():
            values["kms:encryptioncontext:" + name.lower()] = value
        values["kms:encryptioncontextkeys"] = tuple(context)
    algorithm_member = _ALGORITHM_MEMBER.get(permission)
    if algorithm_member is not None:
        values["kms:encryptionalgorithm"] = params.get(
            algorithm_member, _DEFAULT_ALGORITHM
        )
    adder = _REQUEST_KEYS.get(permission)
    if adder is not None:
        adder(params, values)


def _grant_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    values["kms:grantoperations"] = tuple(params.get("Operations", ()))
    grantee = params.get("GranteePrincipal") or params.get("GranteeServicePrincipal")
    if grantee:
        values["kms:granteeprincipal"] = grantee
    retiring = params.get("RetiringPrincipal") or params.get("RetiringServicePrincipal")
    if retiring:
        values["kms:retiringprincipal"] = retiring
    values["kms:grantisforawsresource"] = "false"
    constraints = params.get("Constraints") or {}
    kinds = tuple(name for name in constraints if constraints[name])
    if kinds:
        values["kms:grantconstrainttype"] = kinds[0] if len(kinds) == 1 else kinds


def _tag_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    tags = params.get("Tags") or []
    for tag in tags:
        values["aws:requesttag/" + tag["TagKey"].lower()] = tag["TagValue"]
    values["aws:tagkeys"] = tuple(tag["TagKey"] for tag in tags)


def _untag_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    values["aws:tagkeys"] = tuple(params.get("TagKeys", ()))


def _new_key_attributes(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    """Add the key spec, usage, origin and Region kind that CreateKey asks for."""
    key_spec = (
        params.get("KeySpec")
        or params.get("CustomerMasterKeySpec")
        or _DEFAULT_ALGORITHM
    )
    values["kms:keyspec"] = key_spec
    values["kms:keyusage"] = params.get("KeyUsage", "ENCRYPT_DECRYPT")
    values["kms:keyorigin"] = params.get("Origin", "AWS_KMS")
    values["kms:multiregion"] = "true" if params.get("MultiRegion") else "false"


def _add_new_key_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    """Add the resource keys of the key CreateKey is about to make."""
    _new_key_attributes(params, values)
    values["kms:resourcealiases"] = ()
    for tag in params.get("Tags") or []:
        values["aws:resourcetag/" + tag["TagKey"].lower()] = tag["TagValue"]


def _create_key_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    _new_key_attributes(params, values)
    _bypass_keys(params, values)
    _tag_keys(params, values)


def _bypass_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    bypass = bool(params.get("BypassPolicyLockoutSafetyCheck"))
    values["kms:bypasspolicylockoutsafetycheck"] = "true" if bypass else "false"


def _rotation_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    period = params.get("RotationPeriodInDays")
    values["kms:rotationperiodindays"] = (
        str(period) if period is not None else _DEFAULT_ROTATION_PERIOD_IN_DAYS
    )


def _deletion_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    window = params.get("PendingWindowInDays")
    values["kms:schedulekeydeletionpendingwindowindays"] = (
        str(window) if window is not None else _DEFAULT_PENDING_WINDOW_IN_DAYS
    )


def _import_parameters_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    values["kms:wrappingalgorithm"] = params.get("WrappingAlgorithm", "")
    values["kms:wrappingkeyspec"] = params.get("WrappingKeySpec", "")


def _import_keys(
    params: Mapping[str, Any], values: dict[str, str | tuple[str, ...]]
) -> None:
    values["kms:expirationmodel"] = params.get(
        "ExpirationModel", "KEY_MATERIAL_EXPIRES"
    )
    valid_to = params.get("ValidTo")
    # Epoch seconds, as the request carries them. ImportKeyMaterial rejects
    # an invalid moment after the access check.
    if isinstance(valid_to, int | float) and math.isfinite(valid_to):
        values["kms:validto"] = str(int(valid_to))


_REQUEST_KEYS: dict[
    str, Callable[[Mapping[str, Any], dict[str, str | tuple[str, ...]]], None]
] = {
    "CreateGrant": _grant_keys,
    "CreateKey": _create_key_keys,
    "TagResource": _tag_keys,
    "UntagResource": _untag_keys,
    "PutKeyPolicy": _bypass_keys,
    "EnableKeyRotation": _rotation_keys,
    "ScheduleKeyDeletion": _deletion_keys,
    "GetParametersForImport": _import_parameters_keys,
    "ImportKeyMaterial": _import_keys,
}
