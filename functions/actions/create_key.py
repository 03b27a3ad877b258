"""CreateKey: a new symmetric encryption key with key material made here, or
with none, for key material to be imported (Origin EXTERNAL).

The key policy is the one given, once it passes the lockout safety check, or
the default key policy, which delegates the key to the account's IAM
policies.
"""

from __future__ import annotations

from typing import Any

from domain.errors import UnsupportedOperationException, ValidationException
from domain.identifiers import key_arn, new_key_id
from domain.key import ENCRYPT_DECRYPT, ORIGIN_AWS_KMS, SYMMETRIC_DEFAULT, Key
from domain.key_import import ORIGIN_EXTERNAL
from domain.policy import Policy, PolicyKind, default_key_policy
from domain.principal import Caller
from functions.access import authorize_account
from functions.key_policies import check_lockout, parse_key_policy
from functions.services import Services
from functions.wire import (
    check_tag_count,
    key_metadata,
    reject_unsupported,
    tags_from_wire,
)


def _check_supported(params: dict[str, Any]) -> None:
    # TODO: asymmetric and HMAC key specs, multi-Region keys and custom key
    # stores.
    if "KeySpec" in params and "CustomerMasterKeySpec" in params:
        raise ValidationException(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request."
        )
    key_spec = params.get("KeySpec", params.get("CustomerMasterKeySpec"))
    if key_spec not in (None, SYMMETRIC_DEFAULT):
        raise UnsupportedOperationException(
            f"KeyLedger does not support the key spec {key_spec} yet."
        )
    key_usage = params.get("KeyUsage")
    if key_usage not in (None, ENCRYPT_DECRYPT):
        raise UnsupportedOperationException(
            f"KeyLedger does not support the key usage {key_usage} yet."
        )
    origin = params.get("Origin")
    if origin not in (None, ORIGIN_AWS_KMS, ORIGIN_EXTERNAL):
        raise UnsupportedOperationException(
            f"KeyLedger does not support the origin {origin} yet."
        )
    if params.get("MultiRegion"):
        raise UnsupportedOperationException(
            "KeyLedger does not support multi-Region keys yet."
        )
    reject_unsupported(params, "CustomKeyStoreId", "XksKeyId")


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    _check_supported(params)
    authorize_account(services, caller, "CreateKey", params)
    if params.get("Tags"):
        # AWS requires kms:TagResource too when CreateKey carries tags.
        authorize_account(services, caller, "TagResource", params)
    tags = tags_from_wire(params.get("Tags", []))
    check_tag_count({}, tags)
    account_id = caller.principal.account_id
    key_id = new_key_id()
    arn = key_arn(caller.region, account_id, key_id)
    policy_text = params.get("Policy")
    if policy_text is None:
        policy = Policy.parse(default_key_policy(account_id), PolicyKind.KEY)
    else:
        policy = parse_key_policy(services, policy_text)
        check_lockout(services, caller, policy, None, arn, params)

    now = services.clock.now()
    description = params.get("Description", "")
    if params.get("Origin") == ORIGIN_EXTERNAL:
        # No key material yet: the key waits in PendingImport.
        key = Key.create_for_import(
            key_id=key_id,
            account_id=account_id,
            region=caller.region,
            description=description,
            tags=tags,
            now=now,
            policy=policy.text,
        )
        sealing_key_rows = []
    else:
        key_material_id, sealed, sealing_key_row = services.vault.seal_new_material(
            account_id, caller.region, key_id
        )
        key = Key.create(
            key_id=key_id,
            account_id=account_id,
            region=caller.region,
            description=description,
            tags=tags,
            key_material_id=key_material_id,
            sealed_key_material=sealed,
            now=now,
            policy=policy.text,
        )
        sealing_key_rows = [sealing_key_row]

    key.parsed_policy = policy
    services.store.save(key, sealing_keys=sealing_key_rows)
    return {"KeyMetadata": key_metadata(key)}
