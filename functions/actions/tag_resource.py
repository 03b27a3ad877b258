"""TagResource: add or overwrite tags on a key."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_update
from functions.services import Services
from functions.wire import check_tag_count, tags_from_wire


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    tags = tags_from_wire(params["Tags"])
    key = key_for_update(
        services, caller, "TagResource", params["KeyId"], params, KEY_FORMS
    )
    check_tag_count(key.tags, tags)

    key.tag(tags, services.clock.now())

    services.store.save(key)
    return {}
