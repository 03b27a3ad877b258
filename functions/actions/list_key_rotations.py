"""ListKeyRotations: a key's key materials and the rotations that made them.

By default (IncludeKeyMaterial=ROTATIONS_ONLY) the list has one entry per
completed rotation, oldest first. ALL_KEY_MATERIAL adds the key material the
key was created with, or first imported, which has no RotationDate or
RotationType, and, for imported key material, the key material pending
rotation, last.

For a key with imported key material (origin EXTERNAL) every entry also has
ImportState, ExpirationModel and, where set, KeyMaterialDescription and
ValidTo (API_RotationsListEntry).
"""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidMarkerException
from domain.identifiers import KEY_FORMS
from domain.key import Key
from domain.key_import import (
    ORIGIN_EXTERNAL,
    ExpirationModel,
    ImportedKeyMaterial,
    ImportState,
)
from domain.principal import Caller
from domain.rotation import (
    KeyMaterialEntry,
    KeyMaterialRotation,
    KeyMaterialState,
    key_material_entries,
)
from functions.keys import key_for_use
from functions.services import Services
from functions.wire import decode_marker, encode_marker

DEFAULT_LIMIT = 100
ALL_KEY_MATERIAL = "ALL_KEY_MATERIAL"
# RotationsListEntry.KeyMaterialState: imported key material that waits for
# RotateKeyOnDemand. Only keys with imported key material have it.
PENDING_ROTATION = "PENDING_ROTATION"
_MARKER_KIND = "rotations"


def handle(
    services: Services, caller: Caller, params: dict[str, Any]
) -> dict[str, Any]:
    limit = params.get("Limit", DEFAULT_LIMIT)
    include_all = params.get("IncludeKeyMaterial") == ALL_KEY_MATERIAL
    key = key_for_use(
        services, caller, "ListKeyRotations", params["KeyId"], params, KEY_FORMS
    )
    start = _start_of(params.get("Marker"), key.key_id, include_all)

    if key.origin == ORIGIN_EXTERNAL:
        entries = _imported_entries(key, include_all)
    else:
        entries = [
            _entry_to_wire(key.key_id, entry)
            for entry in key_material_entries(key, include_all)
        ]

    page = entries[start : start + limit]
    truncated = start + limit < len(entries)
    result: dict[str, Any] = {"Rotations": page, "Truncated": truncated}
    if truncated:
        result["NextMarker"] = encode_marker(
            _MARKER_KIND, _position(key.key_id, include_all, start + limit)
        )
    return result


def _position(key_id: str, include_all: bool, index: int) -> str:
    return f"{key_id}:{int(include_all)}:{index}"


def _start_of(marker: str | None, key_id: str, include_all: bool) -> int:
    """Return the index a marker continues from; it must come from the same list."""
    position = decode_marker(_MARKER_KIND, marker)
    if position is None:
        return 0
    prefix = _position(key_id, include_all, 0)[:-1]
    index = position[len(prefix) :]
    # isdigit alone admits digits of other scripts, which int() then rejects.
    if not position.startswith(prefix) or not (index.isascii() and index.isdigit()):
        raise InvalidMarkerException("The marker is not valid.")
    return int(index)


def _entry_to_wire(key_id: str, entry: KeyMaterialEntry) -> dict[str, Any]:
    # The AWS CLI example of list-key-rotations shows the key id in KeyId.
    wire: dict[str, Any] = {
        "KeyId": key_id,
        "KeyMaterialId": entry.key_material_id,
        "KeyMaterialState": entry.state.value,
    }
    if entry.rotation_date is not None and entry.rotation_type is not None:
        wire["RotationDate"] = entry.rotation_date
        wire["RotationType"] = entry.rotation_type.value
    return wire


# Imported key material.


def _imported_entries(key: Key, include_all: bool) -> list[dict[str, Any]]:
    """List the key materials of an EXTERNAL key: first, rotations, pending.

    Key material that was deleted or expired stays associated with the key
    and is listed with ImportState PENDING_IMPORT. Key material pending
    rotation is not yet associated, so only ALL_KEY_MATERIAL lists it. The
    pending entry comes last, so a rotation between two pages turns it into
    the rotation entry at the same index and a marker still points right.
    """
    materials = key.imported_materials
    entries: list[dict[str, Any]] = []
    if include_all and materials:
        # The key material imported first is the key's first, made by no rotation.
        first = next(iter(materials.values()))
        entries.append(_imported_entry_to_wire(key, first, None))
    for rotation in key.rotations:
        material = materials.get(rotation.key_material_id)
        if material is not None:
            entries.append(_imported_entry_to_wire(key, material, rotation))
    pending_id = key.key_material_pending_rotation
    if include_all and pending_id is not None:
        entries.append(_imported_entry_to_wire(key, materials[pending_id], None))
    return entries


def _imported_entry_to_wire(
    key: Key, material: ImportedKeyMaterial, rotation: KeyMaterialRotation | None
) -> dict[str, Any]:
    key_material_id = material.key_material_id
    wire: dict[str, Any] = {
        "KeyId": key.key_id,
        "KeyMaterialId": key_material_id,
        "KeyMaterialState": _imported_state_of(key, key_material_id),
        "ImportState": (
            ImportState.IMPORTED if material.imported else ImportState.PENDING_IMPORT
        ).value,
        "ExpirationModel": material.expiration_model.value,
    }
    if rotation is not None:
        wire["RotationDate"] = rotation.rotation_date
        wire["RotationType"] = rotation.rotation_type.value
    if material.description is not None:
        wire["KeyMaterialDescription"] = material.description
    if (
        material.expiration_model is ExpirationModel.KEY_MATERIAL_EXPIRES
        and material.valid_to is not None
    ):
        # NOTE: AWS does not document ValidTo for key material that was deleted
        # or expired; KeyLedger keeps the ValidTo of its last import.
        wire["ValidTo"] = material.valid_to
    return wire


def _imported_state_of(key: Key, key_material_id: str) -> str:
    if key_material_id == key.current_key_material_id:
        return KeyMaterialState.CURRENT.value
    if key.is_pending_rotation(key_material_id):
        return PENDING_ROTATION
    return KeyMaterialState.NON_CURRENT.value
