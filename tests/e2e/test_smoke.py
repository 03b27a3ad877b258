"""The server starts from the installed command and serves boto3."""

from __future__ import annotations

from typing import Any


def test_create_key_then_encrypt_and_decrypt_round_trip(kms: Any) -> None:
    key = kms.create_key(Description="smoke")["KeyMetadata"]

    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob)

    assert decrypted["Plaintext"] == b"hello"
    assert decrypted["KeyId"] == key["Arn"]
    assert decrypted["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
