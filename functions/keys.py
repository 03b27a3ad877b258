"""Resolve a KeyId parameter to a key of the caller's, as AWS KMS does.

Every action resolves keys here, with the identifier forms its parameter
accepts, so no action can forget a form or check accounts differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.alias import Alias, check_alias_name
from domain.errors import (
    InvalidAliasNameException,
    NotFoundException,
    ValidationException,
)
from domain.identifiers import (
    ALL_FORMS,
    ReferenceForm,
    alias_arn,
    key_arn,
    parse_key_reference,
)
from domain.key import Key
from domain.principal import Caller
from functions.access import access_denied, authorize_account, authorize_key
from functions.services import Services

# The permissions AWS lets a principal of another account use on a key, when
# the key policy and the principal's identity policy both allow it ("AWS KMS
# permissions", the Cross-account use column). Every other action names a key
# of the caller's own account.
CROSS_ACCOUNT_PERMISSIONS = frozenset(
    {
        "CreateGrant",
        "Decrypt",
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateMac",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ReEncryptFrom",
        "ReEncryptTo",
        "RetireGrant",
        "RevokeGrant",
        "Sign",
        "Verify",
        "VerifyMac",
    }
)


@dataclass(frozen=True, slots=True)
class KeyReference:
    """The key a KeyId parameter names: its id, its account, and the alias
    name when the parameter named an alias (for kms:RequestAlias)."""

    key_id: str
    account_id: str
    alias_name: str | None = None


def resolve_key(
    services: Services,
    caller: Caller,
    permission: str,
    text: str,
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> KeyReference:
    """Return the key that ``text`` names for ``caller``.

    A key ARN or alias ARN may name another account's key, for the
    permissions AWS allows across accounts; whether the caller may use it is
    for the access check to decide. An ARN in another Region names no key
    here.
    """
    reference = parse_key_reference(text, allowed)
    account_id = caller.principal.account_id
    if reference.account_id is not None and reference.account_id != account_id:
        if permission not in CROSS_ACCOUNT_PERMISSIONS:
            raise access_denied(caller, permission, text)
        account_id = reference.account_id
    if reference.region is not None and reference.region != caller.region:
        # AWS names the ARN's Region, not the whole ARN, in this message.
        raise NotFoundException(f"Invalid arn {reference.region}")
    if reference.key_id is not None:
        return KeyReference(reference.key_id, account_id)
    alias_name = reference.alias_name or ""
    target = None
    if alias_name_can_exist(alias_name):
        target = services.store.alias_target(account_id, caller.region, alias_name)
    if target is None:
        arn = alias_arn(caller.region, account_id, alias_name)
        raise NotFoundException(f"Alias {arn} is not found.")
    return KeyReference(target, account_id, alias_name)


def resolve_key_id(
    services: Services,
    caller: Caller,
    permission: str,
    text: str,
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> str:
    """Return the id of the key that ``text`` names; see :func:`resolve_key`."""
    return resolve_key(services, caller, permission, text, allowed).key_id


def alias_name_can_exist(alias_name: str) -> bool:
    """Tell whether CreateAlias could have made an alias of this name.

    Any other name, such as one with a NUL character (which PostgreSQL cannot
    store in text), names no alias and must not reach a query.
    """
    try:
        check_alias_name(alias_name)
    except (ValidationException, InvalidAliasNameException):
        return False
    return True


def _check_owner(key: Key | None, caller: Caller, reference: KeyReference) -> Key:
    if (
        key is None
        or key.account_id != reference.account_id
        or key.region != caller.region
    ):
        arn = key_arn(caller.region, reference.account_id, reference.key_id)
        raise NotFoundException(f"Key '{arn}' does not exist")
    key.check_exists()
    return key


def key_for_use(
    services: Services,
    caller: Caller,
    permission: str,
    text: str,
    params: Mapping[str, Any],
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
    extra: Mapping[str, str] | None = None,
) -> Key:
    """Return the key ``text`` names once the caller may do ``permission`` on it.

    The key is current but shared: the caller must not change it. ``params``
    are the request's, for the condition keys its policies may test.
    """
    reference = resolve_key(services, caller, permission, text, allowed)
    key = _check_owner(services.store.cached_key(reference.key_id), caller, reference)
    authorize_key(
        services, caller, permission, key, params, reference.alias_name, extra
    )
    return key


def key_for_update(
    services: Services,
    caller: Caller,
    permission: str,
    text: str,
    params: Mapping[str, Any],
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> Key:
    """Return a private copy of the key, for commands that change it, once
    the caller may do ``permission`` on it."""
    reference = resolve_key(services, caller, permission, text, allowed)
    key = _check_owner(services.store.load_key(reference.key_id), caller, reference)
    authorize_key(services, caller, permission, key, params, reference.alias_name)
    return key


def existing_key(
    services: Services,
    caller: Caller,
    permission: str,
    text: str,
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> Key:
    """Return the key ``text`` names with no access check on the key, for
    actions that identity policies alone govern (ListAliases)."""
    reference = resolve_key(services, caller, permission, text, allowed)
    return _check_owner(services.store.cached_key(reference.key_id), caller, reference)


def authorize_alias(
    services: Services,
    caller: Caller,
    permission: str,
    alias_name: str,
    params: Mapping[str, Any],
) -> None:
    """Check the identity-policy half of an alias action, on the alias's ARN.

    AWS controls aliases in IAM policies only; the key half (the key policy
    on the alias's key) is checked where the key is loaded.
    """
    resource = alias_arn(caller.region, caller.principal.account_id, alias_name)
    authorize_account(services, caller, permission, params, resource)


def authorize_alias_target(
    services: Services,
    caller: Caller,
    permission: str,
    alias: Alias,
    params: Mapping[str, Any],
) -> None:
    """Check ``permission`` on the key an existing alias points at now."""
    key = services.store.cached_key(alias.target_key_id)
    if key is not None and not key.deleted:
        authorize_key(services, caller, permission, key, params)


def existing_alias(services: Services, caller: Caller, alias_name: str) -> Alias:
    """Return a private copy of the caller's alias, or raise NotFoundException."""
    account_id = caller.principal.account_id
    alias = services.store.load_alias(account_id, caller.region, alias_name)
    if alias is None or alias.deleted:
        arn = alias_arn(caller.region, account_id, alias_name)
        raise NotFoundException(f"Alias {arn} is not found.")
    return alias
