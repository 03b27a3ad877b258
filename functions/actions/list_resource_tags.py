"""ListResourceTags: a key's tags, one page at a time."""

from __future__ import annotations

from typing import Any

from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import decode_marker, encode_marker, tags_to_wire

# ListResourceTags takes a Limit of 1 to 50 and defaults to 50, though the
# service model allows up to 1000. A larger Limit gets at most 50 tags, which
# the API permits: KMS "might return fewer" than the Limit.
DEFAULT_LIMIT = 50
MAX_LIMIT = 50
_MARKER_KIND = "tags"
# A tag key has 1 to 128 characters (AWS KMS API reference, Tag).
_MAX_TAG_KEY_LENGTH = 128


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit = min(params.get("Limit", DEFAULT_LIMIT), MAX_LIMIT)
    marker = decode_marker(_MARKER_KIND, params.get("Marker"), _is_tag_key)
    key = key_for_use(
        services, caller, "ListResourceTags", params["KeyId"], params, KEY_FORMS
    )

    tags = sorted(key.tags.items())
    # The marker is the last tag key of the previous page, so a tag removed
    # between two pages does not make the next page skip or repeat entries.
    start = 0
    if marker is not None:
        start = next(
            (i for i, (name, _) in enumerate(tags) if name > marker), len(tags)
        )

    page = tags[start : start + limit]
    truncated = start + limit < len(tags)
    result: dict[str, Any] = {"Tags": tags_to_wire(dict(page)), "Truncated": truncated}
    if truncated:
        result["NextMarker"] = encode_marker(_MARKER_KIND, page[-1][0])
    return result


def _is_tag_key(text: str) -> bool:
    return 1 <= len(text) <= _MAX_TAG_KEY_LENGTH
