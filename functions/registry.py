"""The map from each KMS action to the module that serves it.

Handlers are imported on first use, so a Lambda function built for one action
imports that action's module and nothing else.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Handler = Callable[..., dict[str, Any]]

HANDLER_MODULES = {
    "CancelKeyDeletion": "cancel_key_deletion",
    "CreateAlias": "create_alias",
    "CreateGrant": "create_grant",
    "CreateKey": "create_key",
    "Decrypt": "decrypt",
    "DeleteAlias": "delete_alias",
    "DeleteImportedKeyMaterial": "delete_imported_key_material",
    "DescribeKey": "describe_key",
    "DisableKey": "disable_key",
    "DisableKeyRotation": "disable_key_rotation",
    "EnableKey": "enable_key",
    "EnableKeyRotation": "enable_key_rotation",
    "Encrypt": "encrypt",
    "GenerateDataKey": "generate_data_key",
    "GenerateDataKeyWithoutPlaintext": "generate_data_key_without_plaintext",
    "GenerateRandom": "generate_random",
    "GetKeyLastUsage": "get_key_last_usage",
    "GetKeyPolicy": "get_key_policy",
    "GetKeyRotationStatus": "get_key_rotation_status",
    "GetParametersForImport": "get_parameters_for_import",
    "ImportKeyMaterial": "import_key_material",
    "ListAliases": "list_aliases",
    "ListGrants": "list_grants",
    "ListKeyPolicies": "list_key_policies",
    "ListKeyRotations": "list_key_rotations",
    "ListKeys": "list_keys",
    "ListResourceTags": "list_resource_tags",
    "ListRetirableGrants": "list_retirable_grants",
    "PutKeyPolicy": "put_key_policy",
    "ReEncrypt": "re_encrypt",
    "RetireGrant": "retire_grant",
    "RevokeGrant": "revoke_grant",
    "RotateKeyOnDemand": "rotate_key_on_demand",
    "ScheduleKeyDeletion": "schedule_key_deletion",
    "TagResource": "tag_resource",
    "UntagResource": "untag_resource",
    "UpdateAlias": "update_alias",
    "UpdateKeyDescription": "update_key_description",
}

# Actions that append events; a lost optimistic-concurrency race is retried.
WRITING_ACTIONS = frozenset(
    {
        "CancelKeyDeletion",
        "CreateAlias",
        "CreateGrant",
        "CreateKey",
        "DeleteAlias",
        "DeleteImportedKeyMaterial",
        "DisableKey",
        "DisableKeyRotation",
        "EnableKey",
        "EnableKeyRotation",
        "GetParametersForImport",
        "ImportKeyMaterial",
        "PutKeyPolicy",
        "RetireGrant",
        "RevokeGrant",
        "RotateKeyOnDemand",
        "ScheduleKeyDeletion",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateKeyDescription",
    }
)

# Cryptographic actions: no events, no disk wait, fast enough to run on the
# event loop rather than in a worker thread.
FAST_ACTIONS = frozenset(
    {
        "Decrypt",
        "DescribeKey",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "ReEncrypt",
    }
)

_handlers: dict[str, Handler] = {}


def handler_for(action: str) -> Handler | None:
    handler = _handlers.get(action)
    if handler is None:
        module_name = HANDLER_MODULES.get(action)
        if module_name is None:
            return None
        module = importlib.import_module(f"functions.actions.{module_name}")
        handler = module.handle
        _handlers[action] = handler
    return handler
