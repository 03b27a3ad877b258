"""The key material vault: sealing new material and opening stored material.

Sealed material is bound to its account, Region, key id and key material id,
so material copied onto another key, or opened with another root key, fails
to open instead of loading.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.crypto import CryptoService
from domain.key import Key
from events.store import Store
from events.vault import KeyMaterialUnavailable, KeyMaterialVault

ACCOUNT = "111122223333"
REGION = "us-east-1"
ROOT_KEY = bytes(range(32))
OTHER_ROOT_KEY = bytes(range(1, 33))
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
CONTEXT = {"Department": "Finance"}


def create_key(store: Store, vault: KeyMaterialVault, **owner: str) -> Key:
    account_id = owner.get("account_id", ACCOUNT)
    region = owner.get("region", REGION)
    key_id = str(uuid.uuid4())
    key_material_id, sealed, row = vault.seal_new_material(account_id, region, key_id)
    key = Key.create(
        key_id=key_id,
        account_id=account_id,
        region=region,
        description="",
        tags={},
        key_material_id=key_material_id,
        sealed_key_material=sealed,
        now=NOW,
    )
    store.save(key, sealing_keys=[row])
    return key


def copy_material_onto_new_key(store: Store, source: Key, **owner: str) -> Key:
    """Save a new key whose event carries ``source``'s sealed material and id.

    This is what an attacker who can write event rows would do to reuse
    another key's material under a key of their own.
    """
    key_material_id = source.current_key_material_id
    key = Key.create(
        key_id=str(uuid.uuid4()),
        account_id=owner.get("account_id", source.account_id),
        region=owner.get("region", source.region),
        description="",
        tags={},
        key_material_id=key_material_id,
        sealed_key_material=source.key_materials[key_material_id],
        now=NOW,
    )
    store.save(key)
    return key


@pytest.fixture
def vault(store: Store, recording_random: Callable[[bytes], Any]) -> KeyMaterialVault:
    return KeyMaterialVault(
        store, CryptoService(random=recording_random(b"vault")), ROOT_KEY
    )


def test_opened_material_encrypts_and_decrypts(
    store: Store, vault: KeyMaterialVault
) -> None:
    key = create_key(store, vault)

    opened = vault.opened(key, key.current_key_material_id)
    blob = opened.encrypt(b"payroll", CONTEXT, bytes(12))

    assert opened.key_id == key.key_id
    assert opened.key_material_id == key.current_key_material_id
    assert opened.decrypt(blob, CONTEXT) == b"payroll"


def test_material_opens_again_in_a_fresh_vault(
    store: Store, vault: KeyMaterialVault
) -> None:
    key = create_key(store, vault)
    blob = vault.opened(key, key.current_key_material_id).encrypt(
        b"payroll", CONTEXT, bytes(12)
    )

    fresh = KeyMaterialVault(store, CryptoService(), ROOT_KEY)
    reopened = fresh.opened(key, key.current_key_material_id)

    assert reopened.decrypt(blob, CONTEXT) == b"payroll"


def test_opened_material_is_cached_until_forgotten(
    store: Store, vault: KeyMaterialVault
) -> None:
    key = create_key(store, vault)

    first = vault.opened(key, key.current_key_material_id)
    second = vault.opened(key, key.current_key_material_id)
    vault.forget(key)
    third = vault.opened(key, key.current_key_material_id)

    assert first is second
    assert third is not first


def test_new_materials_have_distinct_ids(store: Store, vault: KeyMaterialVault) -> None:
    keys = [create_key(store, vault) for _ in range(5)]

    material_ids = {key.current_key_material_id for key in keys}

    assert len(material_ids) == 5
    assert all(len(material_id) == 64 for material_id in material_ids)


def test_wrong_root_key_cannot_open(store: Store, vault: KeyMaterialVault) -> None:
    key = create_key(store, vault)

    other = KeyMaterialVault(store, CryptoService(), OTHER_ROOT_KEY)

    with pytest.raises(KeyMaterialUnavailable):
        other.opened(key, key.current_key_material_id)


@pytest.mark.parametrize(
    "owner",
    [{}, {"account_id": "444455556666"}, {"region": "eu-west-1"}],
    ids=["same owner", "other account", "other region"],
)
@pytest.mark.parametrize("source_cached", [False, True], ids=["cold", "cached"])
def test_material_copied_onto_another_key_fails(
    store: Store,
    vault: KeyMaterialVault,
    owner: dict[str, str],
    source_cached: bool,
) -> None:
    source = create_key(store, vault)
    if source_cached:
        vault.opened(source, source.current_key_material_id)

    impostor = copy_material_onto_new_key(store, source, **owner)

    with pytest.raises(KeyMaterialUnavailable) as caught:
        vault.opened(impostor, impostor.current_key_material_id)
    assert impostor.arn in str(caught.value)


def test_unknown_material_id_is_unavailable(
    store: Store, vault: KeyMaterialVault
) -> None:
    key = create_key(store, vault)

    with pytest.raises(KeyMaterialUnavailable):
        vault.opened(key, "00" * 32)


def test_unavailable_error_names_no_secret(
    store: Store, recording_random: Callable[[bytes], Any]
) -> None:
    random = recording_random(b"secrets")
    crypto = CryptoService(random=random)
    sealing_vault = KeyMaterialVault(store, crypto, ROOT_KEY)
    key = create_key(store, sealing_vault)
    other = KeyMaterialVault(store, CryptoService(), OTHER_ROOT_KEY)

    with pytest.raises(KeyMaterialUnavailable) as caught:
        other.opened(key, key.current_key_material_id)

    message = str(caught.value)
    for output in random.outputs[1:]:
        assert output.hex() not in message
    assert ROOT_KEY.hex() not in message
    assert OTHER_ROOT_KEY.hex() not in message
