"""Key material at rest and in memory: sealing new material, opening stored material.

Opened key material is cached per key material id. Material never changes
once written, so the cache needs no freshness check of its own: callers reach
it only through a key that the freshness check has just shown to exist.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterable

from domain.crypto import (
    CryptoService,
    MaterialBinding,
    OpenedKeyMaterial,
    SealingError,
)
from domain.key import Key
from domain.key_import import ImportParameters, wrapping_key_sealing_id
from events.projection import SealingKeyRow
from events.store import Store

MAX_OPENED_KEY_MATERIALS = 100_000


class KeyMaterialUnavailable(Exception):
    """Stored key material could not be opened: tampering, a wrong root key,
    or a sealing key already erased. Clients see KMSInternalException."""


class KeyMaterialVault:
    def __init__(self, store: Store, crypto: CryptoService, root_key: bytes) -> None:
        self._store = store
        self._crypto = crypto
        self._root_key = root_key
        self._opened: dict[str, OpenedKeyMaterial] = {}
        self._lock = threading.Lock()

    def seal_new_material(
        self, account_id: str, region: str, key_id: str
    ) -> tuple[str, str, SealingKeyRow]:
        """Make new key material for a key and seal it.

        Returns the key material id, the sealed material (base64, for the
        event) and the wrapped sealing key row to save in the same transaction.
        """
        key_material_id = self._crypto.new_key_material_id()
        material = self._crypto.new_key_material()
        sealed, row = self.seal_material(
            account_id, region, key_id, key_material_id, material
        )
        return key_material_id, sealed, row

    def seal_material(
        self,
        account_id: str,
        region: str,
        key_id: str,
        key_material_id: str,
        material: bytes,
    ) -> tuple[str, SealingKeyRow]:
        """Seal given key material, such as imported key material, for a key.

        Returns the sealed material (base64, for the event) and the wrapped
        sealing key row to save in the same transaction.
        """
        binding = MaterialBinding(account_id, region, key_id, key_material_id)
        return self._seal(binding, material)

    def seal_wrapping_key(
        self,
        account_id: str,
        region: str,
        key_id: str,
        parameters_id: str,
        private_key_der: bytes,
    ) -> tuple[str, SealingKeyRow]:
        """Seal an import's wrapping private key under a sealing key of its own.

        It is as secret as the key material it will unwrap, so it is kept the
        same way, and erasing its sealing key destroys it.
        """
        sealing_id = wrapping_key_sealing_id(parameters_id)
        binding = MaterialBinding(account_id, region, key_id, sealing_id)
        return self._seal(binding, private_key_der)

    def open_wrapping_key(self, key: Key, parameters: ImportParameters) -> bytes:
        """Return the wrapping private key of ``parameters``, as PKCS #8 DER."""
        sealing_id = wrapping_key_sealing_id(parameters.parameters_id)
        if parameters.sealed_wrapping_key is None:
            raise KeyMaterialUnavailable(
                f"the wrapping key {sealing_id} of {key.arn} was erased"
            )
        return self._open(key, sealing_id, parameters.sealed_wrapping_key)

    def _seal(
        self, binding: MaterialBinding, secret: bytes
    ) -> tuple[str, SealingKeyRow]:
        sealed = self._crypto.seal(secret, binding)
        wrapped = self._crypto.wrap_sealing_key(
            self._root_key, sealed.sealing_key, binding
        )
        return (
            base64.b64encode(sealed.sealed).decode("ascii"),
            SealingKeyRow(binding.key_material_id, binding.key_id, wrapped),
        )

    def _open(self, key: Key, sealing_id: str, sealed: str) -> bytes:
        binding = MaterialBinding(key.account_id, key.region, key.key_id, sealing_id)
        wrapped = self._store.wrapped_sealing_key(sealing_id)
        if wrapped is None:
            raise KeyMaterialUnavailable(
                f"the sealing key of {sealing_id} of {key.arn} is missing"
            )
        try:
            sealing_key = self._crypto.unwrap_sealing_key(
                self._root_key, wrapped, binding
            )
            return self._crypto.open(base64.b64decode(sealed), sealing_key, binding)
        except SealingError as error:
            raise KeyMaterialUnavailable(
                f"{sealing_id} of {key.arn} failed to open: {error}"
            ) from None

    def opened(self, key: Key, key_material_id: str | None) -> OpenedKeyMaterial:
        """Return the key's material ``key_material_id``, ready for use."""
        if key_material_id is None:
            raise KeyMaterialUnavailable(f"key {key.arn} has no key material")
        # The key's own list comes first, so crypto-shredded key material
        # still in the cache is never used.
        sealed = key.key_materials.get(key_material_id)
        if sealed is None:
            raise KeyMaterialUnavailable(
                f"key {key.arn} has no key material {key_material_id}"
            )
        opened = self._opened.get(key_material_id)
        if opened is not None and opened.key_id == key.key_id:
            return opened
        material = self._open(key, key_material_id, sealed)
        opened = OpenedKeyMaterial(key.key_id, key_material_id, material)
        with self._lock:
            if len(self._opened) >= MAX_OPENED_KEY_MATERIALS:
                self._opened.clear()
            self._opened[key_material_id] = opened
        return opened

    def forget(self, key: Key) -> None:
        """Drop a deleted key's opened material from memory."""
        with self._lock:
            for key_material_id in key.key_materials:
                self._opened.pop(key_material_id, None)

    def forget_key_materials(self, key_material_ids: Iterable[str]) -> None:
        """Drop crypto-shredded key materials from memory."""
        with self._lock:
            for key_material_id in key_material_ids:
                self._opened.pop(key_material_id, None)
