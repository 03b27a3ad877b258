"""Which module serves which KMS action.

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
    "CreateKey": "create_key",
    "Decrypt": "decrypt",
    "DeleteAlias": "delete_alias",
    "DescribeKey": "describe_key",
    "DisableKey": "disable_key",
    "EnableKey": "enable_key",
    "Encrypt": "encrypt",
    "GenerateDataKey": "generate_data_key",
    "GenerateDataKeyWithoutPlaintext": "generate_data_key_without_plaintext",
    "GenerateRandom": "generate_random",
    "ListAliases": "list_aliases",
    "ListKeys": "list_keys",
    "ListResourceTags": "list_resource_tags",
    "ReEncrypt": "re_encrypt",
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
        "CreateKey",
        "DeleteAlias",
        "DisableKey",
        "EnableKey",
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
