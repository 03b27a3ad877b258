"""ListKeyRotations: a key's key materials and the rotations that made them.

By default (IncludeKeyMaterial=ROTATIONS_ONLY) the list has one entry per
completed rotation, oldest first. ALL_KEY_MATERIAL adds the key material the
key was created with, which has no RotationDate or RotationType.
"""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidMarkerException
from domain.identifiers import KEY_FORMS
from domain.principal import Caller
from domain.rotation import KeyMaterialEntry, key_material_entries
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import decode_marker, encode_marker

DEFAULT_LIMIT = 100
ALL_KEY_MATERIAL = "ALL_KEY_MATERIAL"
_MARKER_KIND = "rotations"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit = params.get("Limit", DEFAULT_LIMIT)
    include_first = params.get("IncludeKeyMaterial") == ALL_KEY_MATERIAL
    key = key_for_use(services, caller, "ListKeyRotations", params["KeyId"], KEY_FORMS)
    start = _start_of(params.get("Marker"), key.key_id, include_first)

    entries = key_material_entries(key, include_first)

    page = entries[start : start + limit]
    truncated = start + limit < len(entries)
    result: dict[str, Any] = {
        "Rotations": [_entry_to_wire(key.key_id, entry) for entry in page],
        "Truncated": truncated,
    }
    if truncated:
        result["NextMarker"] = encode_marker(
            _MARKER_KIND, _position(key.key_id, include_first, start + limit)
        )
    return result


def _position(key_id: str, include_first: bool, index: int) -> str:
    return f"{key_id}:{int(include_first)}:{index}"


def _start_of(marker: str | None, key_id: str, include_first: bool) -> int:
    """Return the index a marker continues from; it must come from the same list."""
    position = decode_marker(_MARKER_KIND, marker)
    if position is None:
        return 0
    prefix = _position(key_id, include_first, 0)[:-1]
    index = position[len(prefix) :]
    if not position.startswith(prefix) or not index.isdigit():
        raise InvalidMarkerException("The marker is not valid.")
    return int(index)


def _entry_to_wire(key_id: str, entry: KeyMaterialEntry) -> dict[str, Any]:
    # The AWS CLI example of list-key-rotations shows the key id in KeyId.
    # TODO: for keys with imported key material (origin EXTERNAL), the
    # ImportState, ExpirationModel, ValidTo and KeyMaterialDescription fields
    # and the PENDING_ROTATION state.
    wire: dict[str, Any] = {
        "KeyId": key_id,
        "KeyMaterialId": entry.key_material_id,
        "KeyMaterialState": entry.state.value,
    }
    if entry.rotation_date is not None and entry.rotation_type is not None:
        wire["RotationDate"] = entry.rotation_date
        wire["RotationType"] = entry.rotation_type.value
    return wire
