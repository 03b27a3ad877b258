"""RetireGrant: delete a grant, by its grant token or by key and grant id.

The grant itself decides who may retire it ("Retiring and revoking grants"):
its retiring principal, its grantee principal when it allows RetireGrant, and
the account that created it. So the key's policy is not asked, and a grant on
another account's key can be retired. It works in every key state.
"""

from __future__ import annotations

from typing import Any

from domain.errors import NotFoundException, ValidationException
from domain.grant import check_grant_id, parse_grant_token
from domain.identifiers import KEY_FORMS, key_arn
from domain.key import Key
from domain.principal import Caller
from functions.access import access_denied
from functions.keys import resolve_key
from functions.services import Services


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    key_id, account_id, grant_id = _grant_named(services, caller, params)
    key = _key_of_grant(services, caller, key_id, account_id)
    grant = key.existing_grant(grant_id)
    if not grant.can_be_retired_by(caller.principal.arn):
        # TODO: an IAM policy that allows kms:RetireGrant may also let an
        # identity of the key's account or of the retiring account retire it.
        raise access_denied(caller, "RetireGrant", key.arn)

    key.retire_grant(grant_id, services.clock.now())

    services.store.save(key)
    return {}


def _grant_named(
    services: Services, caller: Caller, params: dict[str, Any]
) -> tuple[str, str | None, str]:
    """Return the key id, the key's account when known, and the grant id."""
    token = params.get("GrantToken")
    text = params.get("KeyId")
    grant_id = params.get("GrantId")
    if token is not None:
        token_key_id, token_grant_id = parse_grant_token(token)
        if grant_id is not None and grant_id != token_grant_id:
            # NOTE: AWS's behaviour for a token and a GrantId that disagree is
            # not documented; refusing is the safe reading.
            raise ValidationException(
                "The GrantId does not match the grant that the GrantToken names."
            )
        if text is not None:
            reference = resolve_key(services, caller, "RetireGrant", text, KEY_FORMS)
            if reference.key_id != token_key_id:
                raise ValidationException(
                    "The KeyId does not match the key that the GrantToken names."
                )
            return token_key_id, reference.account_id, token_grant_id
        return token_key_id, None, token_grant_id
    if text is None or grant_id is None:
        # NOTE: AWS's message for this case is not confirmed.
        raise ValidationException(
            "Specify a GrantToken, or both a KeyId and a GrantId, to identify the "
            "grant to retire."
        )
    check_grant_id(grant_id)
    reference = resolve_key(services, caller, "RetireGrant", text, KEY_FORMS)
    return reference.key_id, reference.account_id, grant_id


def _key_of_grant(
    services: Services, caller: Caller, key_id: str, account_id: str | None
) -> Key:
    """Load a private copy of the key, in the caller's Region, of any account."""
    key = services.store.load_key(key_id)
    if (
        key is None
        or key.region != caller.region
        or (account_id is not None and key.account_id != account_id)
    ):
        owner = account_id or caller.principal.account_id
        arn = key_arn(caller.region, owner, key_id)
        raise NotFoundException(f"Key '{arn}' does not exist")
    key.check_exists()
    return key
