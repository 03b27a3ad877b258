"""The AWS Encryption SDK for Python (4.0.7) wraps its data keys with KeyLedger.

The SDK's KMS master key provider calls GenerateDataKey on encrypt and
Decrypt on decrypt, sends the message's encryption context with both, and
checks the key ARN that KMS returns. A recorder on the botocore session logs
every KMS call the SDK makes, so each test can tell a failure KeyLedger
returned from one the SDK raised before sending anything.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import DecryptKeyError
from aws_encryption_sdk.identifiers import Algorithm

ACCOUNT_ID = "111122223333"
REGION = "us-east-1"
CONTEXT = {"purpose": "e2e", "tenant": "ledger"}
PLAINTEXT = b"KeyLedger envelope " * 300


@dataclass
class KmsCall:
    operation: str
    error_code: str | None
    url: str


@dataclass
class KmsCallRecorder:
    """Records each KMS response a botocore session's clients receive."""

    calls: list[KmsCall] = field(default_factory=list)

    def __call__(self, http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
        error_code = parsed.get("Error", {}).get("Code")
        self.calls.append(KmsCall(model.name, error_code, http_response.url))

    def operations(self) -> list[tuple[str, str | None]]:
        return [(call.operation, call.error_code) for call in self.calls]


@pytest.fixture
def recorder() -> KmsCallRecorder:
    return KmsCallRecorder()


@pytest.fixture
def provider_for(
    server: Any, monkeypatch: pytest.MonkeyPatch, recorder: KmsCallRecorder
) -> Callable[..., Any]:
    """Build strict KMS master key providers whose clients call the server.

    The provider creates its own KMS clients from the botocore session and
    passes no endpoint_url, so the endpoint has to come from configuration.
    botocore 1.44 reads the service-specific variable AWS_ENDPOINT_URL_KMS
    ahead of the global AWS_ENDPOINT_URL ("Service-specific endpoints" in the
    AWS SDKs and Tools Reference Guide), which is the documented way to point
    any SDK client at another endpoint. monkeypatch removes it after the test,
    and the global dead endpoint stays as the fallback for every other client.
    A session subclass that injects endpoint_url would depend on how boto3
    calls create_client, which is no public contract.
    """
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    session = botocore.session.Session()
    session.set_credentials("test", "test")
    session.set_config_variable("region", REGION)
    # The provider's clients inherit the session's handlers when it creates them.
    session.register("after-call.kms", recorder)

    def build(*key_ids: str) -> Any:
        return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
            key_ids=list(key_ids), botocore_session=session
        )

    return build


@pytest.fixture
def esdk() -> Any:
    return aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )


def new_key_arn(server: Any) -> str:
    arn: str = server.client().create_key(Description="Encryption SDK")["KeyMetadata"][
        "Arn"
    ]
    return arn


def single_key_info(header: Any) -> bytes:
    """Return the provider info of the message's only encrypted data key."""
    encrypted_data_keys = list(header.encrypted_data_keys)
    assert len(encrypted_data_keys) == 1
    assert encrypted_data_keys[0].key_provider.provider_id == "aws-kms"
    key_info: bytes = encrypted_data_keys[0].key_provider.key_info
    return key_info


def test_round_trip_with_encryption_context(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    key_arn = new_key_arn(server)

    ciphertext, encrypt_header = esdk.encrypt(
        source=PLAINTEXT,
        key_provider=provider_for(key_arn),
        encryption_context=CONTEXT,
        frame_length=1024,
    )
    plaintext, decrypt_header = esdk.decrypt(
        source=ciphertext, key_provider=provider_for(key_arn)
    )

    assert plaintext == PLAINTEXT
    assert PLAINTEXT[:64] not in ciphertext
    # Under REQUIRE_ENCRYPT_REQUIRE_DECRYPT the SDK's default suite commits
    # to the key and signs ("Supported algorithm suites in the AWS Encryption
    # SDK"), and it adds the signing key to the encryption context.
    assert (
        encrypt_header.algorithm
        is Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
    )
    for header in (encrypt_header, decrypt_header):
        assert CONTEXT.items() <= header.encryption_context.items()
        assert "aws-crypto-public-key" in header.encryption_context
    assert single_key_info(encrypt_header) == key_arn.encode()
    assert recorder.operations() == [("GenerateDataKey", None), ("Decrypt", None)]
    assert all(call.url.startswith(server.endpoint) for call in recorder.calls)


def test_message_for_two_keys_decrypts_with_each(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    first_key_arn = new_key_arn(server)
    second_key_arn = new_key_arn(server)
    # Non-ASCII keys and values check that both sides encode the context as UTF-8.
    unicode_context = {"région": "Zürich ☃", "clé": "🔑"}

    ciphertext, header = esdk.encrypt(
        source=PLAINTEXT,
        key_provider=provider_for(first_key_arn, second_key_arn),
        encryption_context=unicode_context,
    )

    # The first key generates the data key and every further key encrypts a
    # copy of it, so the second key exercises Encrypt.
    assert recorder.operations() == [("GenerateDataKey", None), ("Encrypt", None)]
    recorded_keys = sorted(
        data_key.key_provider.key_info for data_key in header.encrypted_data_keys
    )
    assert recorded_keys == sorted([first_key_arn.encode(), second_key_arn.encode()])

    for key_arn in (first_key_arn, second_key_arn):
        plaintext, decrypt_header = esdk.decrypt(
            source=ciphertext, key_provider=provider_for(key_arn)
        )
        assert plaintext == PLAINTEXT
        assert unicode_context.items() <= decrypt_header.encryption_context.items()


def test_decrypt_with_other_key_provider_fails(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    key_arn = new_key_arn(server)
    other_key_arn = new_key_arn(server)
    ciphertext, _ = esdk.encrypt(
        source=PLAINTEXT, key_provider=provider_for(key_arn), encryption_context=CONTEXT
    )
    recorder.calls.clear()

    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=ciphertext, key_provider=provider_for(other_key_arn))

    # A strict provider only offers data keys wrapped under its own key ARN,
    # so the request never reaches KMS.
    assert recorder.calls == []


def test_decrypt_after_key_disabled_fails_at_kms(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    key_arn = new_key_arn(server)
    ciphertext, _ = esdk.encrypt(
        source=PLAINTEXT, key_provider=provider_for(key_arn), encryption_context=CONTEXT
    )
    kms = server.client()
    kms.disable_key(KeyId=key_arn)
    recorder.calls.clear()

    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=ciphertext, key_provider=provider_for(key_arn))

    assert recorder.operations() == [("Decrypt", "DisabledException")]

    kms.enable_key(KeyId=key_arn)
    plaintext, _ = esdk.decrypt(source=ciphertext, key_provider=provider_for(key_arn))
    assert plaintext == PLAINTEXT


def change_once(message: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the only occurrence of ``old``, with bytes of the same length."""
    assert len(old) == len(new)
    assert message.count(old) == 1
    return message.replace(old, new)


def test_changed_header_context_rejected(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    key_arn = new_key_arn(server)
    ciphertext, _ = esdk.encrypt(
        source=PLAINTEXT, key_provider=provider_for(key_arn), encryption_context=CONTEXT
    )
    recorder.calls.clear()
    # The SDK sends the header's encryption context with Decrypt before it
    # checks the header, so KMS receives the changed context first.
    changed = change_once(ciphertext, b"ledger", b"LEDGER")

    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=changed, key_provider=provider_for(key_arn))

    assert recorder.operations() == [("Decrypt", "InvalidCiphertextException")]


def test_changed_encrypted_data_key_rejected(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    key_arn = new_key_arn(server)
    ciphertext, header = esdk.encrypt(
        source=PLAINTEXT, key_provider=provider_for(key_arn), encryption_context=CONTEXT
    )
    encrypted_data_key = next(iter(header.encrypted_data_keys)).encrypted_data_key
    middle = len(encrypted_data_key) // 2
    flipped_key = (
        encrypted_data_key[:middle]
        + bytes([encrypted_data_key[middle] ^ 0x01])
        + encrypted_data_key[middle + 1 :]
    )
    changed = change_once(ciphertext, encrypted_data_key, flipped_key)
    recorder.calls.clear()

    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=changed, key_provider=provider_for(key_arn))

    assert recorder.operations() == [("Decrypt", "InvalidCiphertextException")]


def test_alias_arn_provider_encrypts_but_cannot_decrypt(
    server: Any, provider_for: Callable[..., Any], esdk: Any, recorder: KmsCallRecorder
) -> None:
    key_arn = new_key_arn(server)
    alias_name = f"alias/esdk-{uuid.uuid4().hex[:12]}"
    server.client().create_alias(AliasName=alias_name, TargetKeyId=key_arn)
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name}"
    alias_provider = provider_for(alias_arn)

    ciphertext, header = esdk.encrypt(
        source=PLAINTEXT, key_provider=alias_provider, encryption_context=CONTEXT
    )

    # GenerateDataKey returns the key ARN even when called with an alias
    # (GenerateDataKey, AWS KMS API Reference), and the SDK records that ARN.
    assert single_key_info(header) == key_arn.encode()
    assert recorder.operations() == [("GenerateDataKey", None)]
    recorder.calls.clear()

    # By design the SDK decrypts only data keys whose recorded key ARN equals
    # a configured key identifier, and an alias ARN never equals a key ARN.
    with pytest.raises(DecryptKeyError, match="Unable to decrypt any data key"):
        esdk.decrypt(source=ciphertext, key_provider=alias_provider)
    assert recorder.calls == []

    plaintext, _ = esdk.decrypt(source=ciphertext, key_provider=provider_for(key_arn))
    assert plaintext == PLAINTEXT
    assert recorder.operations() == [("Decrypt", None)]


def test_kms_keyring_round_trip(server: Any, esdk: Any) -> None:
    # The keyring comes from the Material Providers Library, an optional
    # dependency of the SDK that the test extras do not install.
    # NOTE: this test has not run here, because that library is missing.
    mpl = pytest.importorskip(
        "aws_cryptographic_material_providers.mpl",
        reason="aws-cryptographic-material-providers is not installed",
    )
    from aws_cryptographic_material_providers.mpl.config import MaterialProvidersConfig
    from aws_cryptographic_material_providers.mpl.models import CreateAwsKmsKeyringInput

    key_arn = new_key_arn(server)
    material_providers = mpl.AwsCryptographicMaterialProviders(
        config=MaterialProvidersConfig()
    )
    keyring = material_providers.create_aws_kms_keyring(
        input=CreateAwsKmsKeyringInput(kms_key_id=key_arn, kms_client=server.client())
    )

    ciphertext, encrypt_header = esdk.encrypt(
        source=PLAINTEXT, keyring=keyring, encryption_context=CONTEXT
    )
    plaintext, _ = esdk.decrypt(
        source=ciphertext, keyring=keyring, encryption_context=CONTEXT
    )

    assert plaintext == PLAINTEXT
    assert single_key_info(encrypt_header) == key_arn.encode()
