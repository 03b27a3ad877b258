"""Resolve a KeyId parameter to a key of the caller's, as AWS KMS does.

Every action resolves keys here, with the identifier forms its parameter
accepts, so no action can forget a form or check accounts differently.
"""

from __future__ import annotations

from domain.alias import Alias, check_alias_name
from domain.errors import (
    AccessDeniedException,
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
from functions.services import Services


def access_denied(caller: Caller, action: str, resource: str) -> AccessDeniedException:
    return AccessDeniedException(
        f"User: {caller.principal.arn} is not authorized to perform: kms:{action} "
        f"on resource: {resource} because no resource-based policy allows the "
        f"kms:{action} action"
    )


def resolve_key_id(
    services: Services,
    caller: Caller,
    action: str,
    text: str,
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> str:
    """Return the key id that ``text`` names for ``caller``.

    An ARN in another account is refused with AccessDeniedException: no key
    policy can open a key to another account until key policies exist. An ARN
    in another Region names no key here.
    """
    reference = parse_key_reference(text, allowed)
    account_id = caller.principal.account_id
    if reference.account_id is not None and reference.account_id != account_id:
        raise access_denied(caller, action, text)
    if reference.region is not None and reference.region != caller.region:
        # AWS names the ARN's Region, not the whole ARN, in this message.
        raise NotFoundException(f"Invalid arn {reference.region}")
    if reference.key_id is not None:
        return reference.key_id
    alias_name = reference.alias_name or ""
    target = None
    if alias_name_can_exist(alias_name):
        target = services.store.alias_target(account_id, caller.region, alias_name)
    if target is None:
        arn = alias_arn(caller.region, account_id, alias_name)
        raise NotFoundException(f"Alias {arn} is not found.")
    return target


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


def _check_owner(key: Key | None, caller: Caller, key_id: str) -> Key:
    account_id = caller.principal.account_id
    if key is None or key.account_id != account_id or key.region != caller.region:
        arn = key_arn(caller.region, account_id, key_id)
        raise NotFoundException(f"Key '{arn}' does not exist")
    key.check_exists()
    return key


def key_for_use(
    services: Services,
    caller: Caller,
    action: str,
    text: str,
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> Key:
    """Return the caller's key, current but shared: the caller must not change it."""
    key_id = resolve_key_id(services, caller, action, text, allowed)
    return _check_owner(services.store.cached_key(key_id), caller, key_id)


def key_for_update(
    services: Services,
    caller: Caller,
    action: str,
    text: str,
    allowed: frozenset[ReferenceForm] = ALL_FORMS,
) -> Key:
    """Return a private copy of the caller's key, for commands that change it."""
    key_id = resolve_key_id(services, caller, action, text, allowed)
    return _check_owner(services.store.load_key(key_id), caller, key_id)


def existing_alias(services: Services, caller: Caller, alias_name: str) -> Alias:
    """Return a private copy of the caller's alias, or raise NotFoundException."""
    account_id = caller.principal.account_id
    alias = services.store.load_alias(account_id, caller.region, alias_name)
    if alias is None or alias.deleted:
        arn = alias_arn(caller.region, account_id, alias_name)
        raise NotFoundException(f"Alias {arn} is not found.")
    return alias
