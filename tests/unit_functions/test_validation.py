"""Request validation against the KMS service model, with AWS's exact messages.

Message formats come from AWS responses quoted in public reports: "1 validation
error detected: Value 'AES-256' at 'keySpec' failed to satisfy constraint:
Member must satisfy enum value set: [...]" for GenerateDataKey, "Value '' at
'keyId' ... Member must have length greater than or equal to 1" for KMS, the
"; " separator and 'tags.1.member.tagKey' paths of AWS JSON services, and "Value
at 'plaintext' ... less than or equal to 4096" for a 4097-byte Encrypt. Lengths,
ranges, enums, patterns and required members come from the botocore KMS model,
which the AWS KMS API reference is generated from.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.loaders import create_loader
from botocore.model import ServiceModel

from domain.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)
from functions.validation import RequestValidator, load_validator

VALIDATOR = load_validator()
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def body(params: Any) -> bytes:
    return json.dumps(params).encode()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def load_kms_model() -> ServiceModel:
    loader = create_loader()
    return ServiceModel(loader.load_service_model("kms", "service-2"), "kms")


def null_at(path: str) -> str:
    return (
        f"Value null at '{path}' failed to satisfy constraint: Member must not be null"
    )


def hidden_null_at(path: str) -> str:
    return f"Value at '{path}' failed to satisfy constraint: Member must not be null"


def detected(*violations: str) -> str:
    noun = "error" if len(violations) == 1 else "errors"
    return f"{len(violations)} validation {noun} detected: " + "; ".join(violations)


def validation_message(operation: str, payload: bytes) -> str:
    with pytest.raises(ValidationException) as caught:
        VALIDATOR.validate(operation, payload)
    return caught.value.message


def serialization_message(operation: str, payload: bytes) -> str:
    with pytest.raises(SerializationException) as caught:
        VALIDATOR.validate(operation, payload)
    return caught.value.message


# Required members of every KMS operation ("Required: Yes" in the API
# reference), in the model's member order.
REQUIRED_ON_EMPTY_BODY: dict[str, list[str]] = {
    "CancelKeyDeletion": [null_at("keyId")],
    "ConnectCustomKeyStore": [null_at("customKeyStoreId")],
    "CreateAlias": [null_at("aliasName"), null_at("targetKeyId")],
    "CreateCustomKeyStore": [null_at("customKeyStoreName")],
    "CreateGrant": [null_at("keyId"), null_at("operations")],
    "Decapsulate": [
        null_at("keyId"),
        hidden_null_at("sharedSecretCiphertextBlob"),
        null_at("encapsulationAlgorithm"),
    ],
    "DeleteAlias": [null_at("aliasName")],
    "DeleteCustomKeyStore": [null_at("customKeyStoreId")],
    "DeleteImportedKeyMaterial": [null_at("keyId")],
    "DeriveSharedSecret": [
        null_at("keyId"),
        null_at("keyAgreementAlgorithm"),
        hidden_null_at("publicKey"),
    ],
    "DescribeKey": [null_at("keyId")],
    "DisableKey": [null_at("keyId")],
    "DisableKeyRotation": [null_at("keyId")],
    "DisconnectCustomKeyStore": [null_at("customKeyStoreId")],
    "EnableKey": [null_at("keyId")],
    "EnableKeyRotation": [null_at("keyId")],
    "Encapsulate": [null_at("keyId"), null_at("encapsulationAlgorithm")],
    "Encrypt": [null_at("keyId"), hidden_null_at("plaintext")],
    "GenerateDataKey": [null_at("keyId")],
    "GenerateDataKeyPair": [null_at("keyId"), null_at("keyPairSpec")],
    "GenerateDataKeyPairWithoutPlaintext": [null_at("keyId"), null_at("keyPairSpec")],
    "GenerateDataKeyWithoutPlaintext": [null_at("keyId")],
    "GenerateMac": [
        hidden_null_at("message"),
        null_at("keyId"),
        null_at("macAlgorithm"),
    ],
    "GetKeyLastUsage": [null_at("keyId")],
    "GetKeyPolicy": [null_at("keyId")],
    "GetKeyRotationStatus": [null_at("keyId")],
    "GetParametersForImport": [
        null_at("keyId"),
        null_at("wrappingAlgorithm"),
        null_at("wrappingKeySpec"),
    ],
    "GetPublicKey": [null_at("keyId")],
    "ImportKeyMaterial": [
        null_at("keyId"),
        hidden_null_at("importToken"),
        hidden_null_at("encryptedKeyMaterial"),
    ],
    "ListGrants": [null_at("keyId")],
    "ListKeyPolicies": [null_at("keyId")],
    "ListKeyRotations": [null_at("keyId")],
    "ListResourceTags": [null_at("keyId")],
    "PutKeyPolicy": [null_at("keyId"), null_at("policy")],
    "ReEncrypt": [null_at("destinationKeyId")],
    "ReplicateKey": [null_at("keyId"), null_at("replicaRegion")],
    "RevokeGrant": [null_at("keyId"), null_at("grantId")],
    "RotateKeyOnDemand": [null_at("keyId")],
    "ScheduleKeyDeletion": [null_at("keyId")],
    "Sign": [null_at("keyId"), hidden_null_at("message"), null_at("signingAlgorithm")],
    "TagResource": [null_at("keyId"), null_at("tags")],
    "UntagResource": [null_at("keyId"), null_at("tagKeys")],
    "UpdateAlias": [null_at("aliasName"), null_at("targetKeyId")],
    "UpdateCustomKeyStore": [null_at("customKeyStoreId")],
    "UpdateKeyDescription": [null_at("keyId"), null_at("description")],
    "UpdatePrimaryRegion": [null_at("keyId"), null_at("primaryRegion")],
    "Verify": [
        null_at("keyId"),
        hidden_null_at("message"),
        hidden_null_at("signature"),
        null_at("signingAlgorithm"),
    ],
    "VerifyMac": [
        hidden_null_at("message"),
        null_at("keyId"),
        null_at("macAlgorithm"),
        hidden_null_at("mac"),
    ],
}

# Operations with no required member that the model accepts empty.
ACCEPTED_EMPTY = [
    "CreateKey",
    "DescribeCustomKeyStores",
    "ListAliases",
    "ListKeys",
    "ListRetirableGrants",
    "RetireGrant",
]

# Operations with no required member in the model that a service rule rejects.
RULE_ON_EMPTY_BODY = {
    # API_GenerateRandom: NumberOfBytes "is required".
    "GenerateRandom": "NumberOfBytes is required.",
    # API_Decrypt: CiphertextBlob is required unless DryRun ignores it.
    "Decrypt": detected(hidden_null_at("ciphertextBlob")),
}


def test_empty_body_tables_cover_all_56_operations() -> None:
    covered = (
        set(REQUIRED_ON_EMPTY_BODY) | set(ACCEPTED_EMPTY) | set(RULE_ON_EMPTY_BODY)
    )
    operations = set(load_kms_model().operation_names)

    assert len(operations) == 56
    assert covered == operations


@pytest.mark.parametrize("payload", [b"{}", b""], ids=["empty-object", "no-body"])
@pytest.mark.parametrize("operation", sorted(REQUIRED_ON_EMPTY_BODY))
def test_empty_body_reports_every_required_member(
    operation: str, payload: bytes
) -> None:
    expected = detected(*REQUIRED_ON_EMPTY_BODY[operation])

    assert validation_message(operation, payload) == expected


@pytest.mark.parametrize("operation", ACCEPTED_EMPTY)
def test_empty_body_is_accepted_without_required_members(operation: str) -> None:
    assert VALIDATOR.validate(operation, b"{}") == {}
    assert VALIDATOR.validate(operation, b"") == {}


@pytest.mark.parametrize("operation", sorted(RULE_ON_EMPTY_BODY))
def test_empty_body_fails_service_rule(operation: str) -> None:
    assert validation_message(operation, b"{}") == RULE_ON_EMPTY_BODY[operation]


def test_null_member_counts_as_missing() -> None:
    payload = body({"KeyId": None})

    assert validation_message("DescribeKey", payload) == detected(null_at("keyId"))


def test_valid_encrypt_returns_decoded_plaintext() -> None:
    payload = body(
        {
            "KeyId": KEY_ID,
            "Plaintext": b64(b"hello"),
            "EncryptionContext": {"app": "demo"},
            "GrantTokens": ["token"],
            "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        }
    )

    params = VALIDATOR.validate("Encrypt", payload)

    assert params == {
        "KeyId": KEY_ID,
        "Plaintext": b"hello",
        "EncryptionContext": {"app": "demo"},
        "GrantTokens": ["token"],
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }


def test_unknown_members_are_dropped() -> None:
    payload = body({"KeyId": KEY_ID, "Unknown": {"x": [1, 2]}, "keyid": 5})

    assert VALIDATOR.validate("DescribeKey", payload) == {"KeyId": KEY_ID}


def test_nested_blobs_are_decoded() -> None:
    document = bytes(range(256))
    payload = body(
        {
            "NumberOfBytes": 32,
            "Recipient": {
                "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
                "AttestationDocument": b64(document),
            },
        }
    )

    params = VALIDATOR.validate("GenerateRandom", payload)

    assert params["Recipient"]["AttestationDocument"] == document
    assert params["NumberOfBytes"] == 32


def test_tag_list_is_returned_as_dicts() -> None:
    tags = [{"TagKey": "env", "TagValue": ""}, {"TagKey": "team", "TagValue": "a"}]

    params = VALIDATOR.validate("TagResource", body({"KeyId": KEY_ID, "Tags": tags}))

    assert params["Tags"] == tags


def test_duplicate_keys_keep_last_value() -> None:
    payload = b'{"KeyId": "first", "KeyId": "second"}'

    assert VALIDATOR.validate("DescribeKey", payload) == {"KeyId": "second"}


# --- Plaintext limits (API_Encrypt: Plaintext length 1 to 4096 bytes) ---


def test_plaintext_over_4096_bytes_names_member_without_value() -> None:
    plaintext = b"secret-value-" * 316  # 4108 bytes
    payload = body({"KeyId": KEY_ID, "Plaintext": b64(plaintext[:4097])})

    message = validation_message("Encrypt", payload)

    # The exact message AWS returned for a 4097-byte Encrypt.
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy"
        " constraint: Member must have length less than or equal to 4096"
    )
    assert "secret-value" not in message
    assert b64(plaintext[:4097])[:40] not in message


def test_plaintext_of_4096_bytes_is_accepted() -> None:
    plaintext = bytes(range(256)) * 16

    params = VALIDATOR.validate(
        "Encrypt", body({"KeyId": KEY_ID, "Plaintext": b64(plaintext)})
    )

    assert params["Plaintext"] == plaintext


def test_empty_plaintext_fails_minimum_length() -> None:
    message = validation_message("Encrypt", body({"KeyId": KEY_ID, "Plaintext": ""}))

    assert message == detected(
        "Value at 'plaintext' failed to satisfy constraint:"
        " Member must have length greater than or equal to 1"
    )


def test_sensitive_string_is_not_echoed() -> None:
    # KeyStorePassword is marked sensitive in the model, length 7 to 32.
    payload = body({"CustomKeyStoreName": "store", "KeyStorePassword": "pw-abc"})

    message = validation_message("CreateCustomKeyStore", payload)

    assert message == detected(
        "Value at 'keyStorePassword' failed to satisfy constraint:"
        " Member must have length greater than or equal to 7"
    )
    assert "pw-abc" not in message


def test_sensitive_nested_member_is_not_echoed() -> None:
    credential = {"AccessKeyId": "lowercase-not-base32", "RawSecretAccessKey": "s!"}
    payload = body(
        {
            "CustomKeyStoreName": "store",
            "XksProxyAuthenticationCredential": credential,
        }
    )

    message = validation_message("CreateCustomKeyStore", payload)

    path = "xksProxyAuthenticationCredential"
    assert message == detected(
        f"Value at '{path}.accessKeyId' failed to satisfy constraint:"
        " Member must satisfy regular expression pattern: ^[A-Z2-7]+$",
        f"Value at '{path}.rawSecretAccessKey' failed to satisfy constraint:"
        " Member must satisfy regular expression pattern: ^[a-zA-Z0-9\\/+=]+$",
        f"Value at '{path}.rawSecretAccessKey' failed to satisfy constraint:"
        " Member must have length greater than or equal to 43",
    )
    assert "lowercase-not-base32" not in message


def test_sign_message_too_long_is_not_echoed() -> None:
    payload = body(
        {
            "KeyId": KEY_ID,
            "Message": b64(b"m" * 4097),
            "SigningAlgorithm": "ECDSA_SHA_256",
        }
    )

    message = validation_message("Sign", payload)

    assert message == detected(
        "Value at 'message' failed to satisfy constraint:"
        " Member must have length less than or equal to 4096"
    )


# --- Constraint messages ---


def test_key_id_shorter_than_one_is_echoed() -> None:
    # As AWS KMS returned it: Value '' at 'keyId' ... greater than or equal to 1.
    message = validation_message("DescribeKey", body({"KeyId": ""}))

    assert message == detected(
        "Value '' at 'keyId' failed to satisfy constraint:"
        " Member must have length greater than or equal to 1"
    )


def test_data_key_spec_outside_enum_lists_values() -> None:
    payload = body({"KeyId": KEY_ID, "KeySpec": "AES-256"})

    message = validation_message("GenerateDataKey", payload)

    assert message == detected(
        "Value 'AES-256' at 'keySpec' failed to satisfy constraint:"
        " Member must satisfy enum value set: [AES_256, AES_128]"
    )


def test_alias_name_outside_pattern_is_rejected() -> None:
    payload = body({"AliasName": "alias/bad name!", "TargetKeyId": KEY_ID})

    message = validation_message("CreateAlias", payload)

    assert message == detected(
        "Value 'alias/bad name!' at 'aliasName' failed to satisfy constraint:"
        " Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    )


def test_empty_alias_name_fails_pattern_and_length() -> None:
    message = validation_message("DeleteAlias", body({"AliasName": ""}))

    assert message == detected(
        "Value '' at 'aliasName' failed to satisfy constraint:"
        " Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        "Value '' at 'aliasName' failed to satisfy constraint:"
        " Member must have length greater than or equal to 1",
    )


def test_unanchored_pattern_must_match_whole_value() -> None:
    # AccountIdType has pattern [0-9]{12}, which 13 digits contain but do not match.
    payload = body(
        {"CustomKeyStoreId": "cks-1", "XksProxyVpcEndpointServiceOwner": "1" * 13}
    )

    message = validation_message("UpdateCustomKeyStore", payload)

    assert message == detected(
        "Value '1111111111111' at 'xksProxyVpcEndpointServiceOwner' failed to"
        " satisfy constraint: Member must satisfy regular expression pattern:"
        " [0-9]{12}",
        "Value '1111111111111' at 'xksProxyVpcEndpointServiceOwner' failed to"
        " satisfy constraint: Member must have length less than or equal to 12",
    )


def test_word_class_in_pattern_is_ascii_only() -> None:
    # Java's \w, used in PrincipalIdType, matches ASCII word characters only.
    principal = "arn:aws:iam::111122223333:role/rôle"

    message = validation_message(
        "ListRetirableGrants", body({"RetiringPrincipal": principal})
    )

    assert message == detected(
        f"Value '{principal}' at 'retiringPrincipal' failed to satisfy constraint:"
        " Member must satisfy regular expression pattern: ^[\\w+=,.@:/-]+$"
    )


def test_integer_range_is_checked() -> None:
    message = validation_message("ListKeys", body({"Limit": 1001}))

    assert message == detected(
        "Value '1001' at 'limit' failed to satisfy constraint:"
        " Member must have value less than or equal to 1000"
    )


def test_nested_tag_members_use_one_based_paths() -> None:
    tags = [
        {"TagKey": "k" * 129, "TagValue": "v"},
        {"TagKey": "team"},
        {"TagKey": "", "TagValue": "v" * 257},
    ]

    message = validation_message("CreateKey", body({"Tags": tags}))

    assert message == detected(
        f"Value '{'k' * 129}' at 'tags.1.member.tagKey' failed to satisfy"
        " constraint: Member must have length less than or equal to 128",
        null_at("tags.2.member.tagValue"),
        "Value '' at 'tags.3.member.tagKey' failed to satisfy constraint:"
        " Member must have length greater than or equal to 1",
        f"Value '{'v' * 257}' at 'tags.3.member.tagValue' failed to satisfy"
        " constraint: Member must have length less than or equal to 256",
    )


def test_null_tag_in_list_is_reported() -> None:
    message = validation_message("TagResource", body({"KeyId": KEY_ID, "Tags": [None]}))

    assert message == detected(null_at("tags.1.member"))


def test_multiple_violations_are_joined_in_member_order() -> None:
    payload = body({"KeyId": "", "Plaintext": "", "EncryptionAlgorithm": "AES"})

    message = validation_message("Encrypt", payload)

    assert message == detected(
        "Value '' at 'keyId' failed to satisfy constraint:"
        " Member must have length greater than or equal to 1",
        "Value at 'plaintext' failed to satisfy constraint:"
        " Member must have length greater than or equal to 1",
        "Value 'AES' at 'encryptionAlgorithm' failed to satisfy constraint:"
        " Member must satisfy enum value set:"
        " [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]",
    )


def test_scalar_list_element_is_reported_at_list() -> None:
    payload = body({"KeyId": KEY_ID, "GrantTokens": ["", "token"]})

    message = validation_message("DescribeKey", payload)

    assert message == detected(
        "Value '[, token]' at 'grantTokens' failed to satisfy constraint:"
        " Member must satisfy constraint: [Member must have length less than or"
        " equal to 8192, Member must have length greater than or equal to 1]"
    )


def test_too_many_grant_tokens_fails_list_length() -> None:
    tokens = [f"t{index}" for index in range(11)]

    message = validation_message(
        "DescribeKey", body({"KeyId": KEY_ID, "GrantTokens": tokens})
    )

    assert message == detected(
        f"Value '[{', '.join(tokens)}]' at 'grantTokens' failed to satisfy"
        " constraint: Member must have length less than or equal to 10"
    )


def test_enum_list_element_is_reported_at_list() -> None:
    payload = body({"KeyId": KEY_ID, "Operations": ["Encrypt", "Explode"]})

    message = validation_message("CreateGrant", payload)

    assert message.startswith(
        "1 validation error detected: Value '[Encrypt, Explode]' at 'operations'"
        " failed to satisfy constraint: Member must satisfy constraint:"
        " [Member must satisfy enum value set: [Decrypt, Encrypt,"
    )


def test_null_context_value_is_reported_at_map() -> None:
    payload = body(
        {"KeyId": KEY_ID, "Plaintext": "QQ==", "EncryptionContext": {"a": None}}
    )

    message = validation_message("Encrypt", payload)

    assert message == detected(
        "Value '{a=null}' at 'encryptionContext' failed to satisfy constraint:"
        " Map value must satisfy constraint: [Member must not be null]"
    )


# --- Service rules the model does not state ---


@pytest.mark.parametrize("days", [7, 30])
def test_pending_window_bounds_are_accepted(days: int) -> None:
    payload = body({"KeyId": KEY_ID, "PendingWindowInDays": days})

    params = VALIDATOR.validate("ScheduleKeyDeletion", payload)

    assert params["PendingWindowInDays"] == days


@pytest.mark.parametrize(
    ("days", "constraint"),
    [
        (6, "Member must have value greater than or equal to 7"),
        (31, "Member must have value less than or equal to 30"),
        # The model's own range, 1 to 365, is checked first.
        (0, "Member must have value greater than or equal to 1"),
        (366, "Member must have value less than or equal to 365"),
    ],
)
def test_pending_window_outside_7_to_30_is_rejected(days: int, constraint: str) -> None:
    # API_ScheduleKeyDeletion: "it must be between 7 and 30, inclusive".
    payload = body({"KeyId": KEY_ID, "PendingWindowInDays": days})

    message = validation_message("ScheduleKeyDeletion", payload)

    assert message == detected(
        f"Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint:"
        f" {constraint}"
    )


@pytest.mark.parametrize(
    "operation", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"]
)
@pytest.mark.parametrize(
    "extra",
    [{}, {"KeySpec": "AES_256", "NumberOfBytes": 32}],
    ids=["neither", "both"],
)
def test_data_key_needs_one_length_member(
    operation: str, extra: dict[str, Any]
) -> None:
    # API_GenerateDataKey: "either the KeySpec or the NumberOfBytes parameter
    # (but not both)".
    message = validation_message(operation, body({"KeyId": KEY_ID, **extra}))

    assert message == "Please specify either number of bytes or key spec."


@pytest.mark.parametrize(
    "operation", ["GenerateDataKey", "GenerateDataKeyWithoutPlaintext"]
)
@pytest.mark.parametrize("extra", [{"KeySpec": "AES_128"}, {"NumberOfBytes": 64}])
def test_data_key_with_one_length_member_is_accepted(
    operation: str, extra: dict[str, Any]
) -> None:
    params = VALIDATOR.validate(operation, body({"KeyId": KEY_ID, **extra}))

    assert params == {"KeyId": KEY_ID, **extra}


def test_random_number_of_bytes_range_comes_from_model() -> None:
    message = validation_message("GenerateRandom", body({"NumberOfBytes": 1025}))

    assert message == detected(
        "Value '1025' at 'numberOfBytes' failed to satisfy constraint:"
        " Member must have value less than or equal to 1024"
    )


def test_key_spec_and_customer_master_key_spec_conflict() -> None:
    payload = body({"KeySpec": "RSA_2048", "CustomerMasterKeySpec": "RSA_2048"})

    message = validation_message("CreateKey", payload)

    assert message == (
        "You cannot specify KeySpec and CustomerMasterKeySpec in the same request."
        " CustomerMasterKeySpec is deprecated."
    )


def test_alias_without_prefix_is_rejected() -> None:
    payload = body({"AliasName": "my-key", "TargetKeyId": KEY_ID})

    message = validation_message("CreateAlias", payload)

    assert message == (
        'Alias must start with the prefix "alias/". Please see'
        " https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
    )


def test_alias_with_colon_is_rejected() -> None:
    # The model's pattern allows ':', but API_CreateAlias does not.
    payload = body({"AliasName": "alias/Service:Test", "TargetKeyId": KEY_ID})

    message = validation_message("CreateAlias", payload)

    assert message == "alias/Service:Test contains invalid characters for an alias"


def test_alias_with_allowed_characters_is_accepted() -> None:
    payload = body({"AliasName": "alias/ok_-/x", "TargetKeyId": KEY_ID})

    params = VALIDATOR.validate("CreateAlias", payload)

    assert params == {"AliasName": "alias/ok_-/x", "TargetKeyId": KEY_ID}


def test_decrypt_dry_run_may_omit_ciphertext() -> None:
    payload = body({"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]})

    params = VALIDATOR.validate("Decrypt", payload)

    assert params == {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}


def test_reencrypt_without_ciphertext_is_rejected() -> None:
    payload = body({"DestinationKeyId": KEY_ID, "DryRun": True})

    message = validation_message("ReEncrypt", payload)

    assert message == detected(hidden_null_at("ciphertextBlob"))


# --- Type mismatches: SerializationException ---

TYPE_MISMATCHES = [
    # string members
    ("DescribeKey", {"KeyId": 5}, "NUMBER_VALUE cannot be converted to String"),
    ("DescribeKey", {"KeyId": 1.5}, "DECIMAL_VALUE cannot be converted to String"),
    ("DescribeKey", {"KeyId": True}, "TRUE_VALUE cannot be converted to String"),
    ("DescribeKey", {"KeyId": False}, "FALSE_VALUE cannot be converted to String"),
    ("DescribeKey", {"KeyId": ["k"]}, "Start of list found where not expected"),
    (
        "DescribeKey",
        {"KeyId": {"k": 1}},
        "Start of structure or map found where not expected",
    ),
    # integer members
    ("ListKeys", {"Limit": "10"}, "STRING_VALUE cannot be converted to Integer"),
    ("ListKeys", {"Limit": True}, "TRUE_VALUE cannot be converted to Integer"),
    ("ListKeys", {"Limit": 10.0}, "DECIMAL_VALUE cannot be converted to Integer"),
    ("ListKeys", {"Limit": [10]}, "Start of list found where not expected"),
    # boolean members
    (
        "CreateKey",
        {"MultiRegion": "true"},
        "STRING_VALUE cannot be converted to Boolean",
    ),
    ("CreateKey", {"MultiRegion": 1}, "NUMBER_VALUE cannot be converted to Boolean"),
    # blob members
    (
        "Encrypt",
        {"KeyId": KEY_ID, "Plaintext": 5},
        "only base-64-encoded strings are convertible to bytes",
    ),
    (
        "Encrypt",
        {"KeyId": KEY_ID, "Plaintext": ["QQ=="]},
        "Start of list found where not expected",
    ),
    # list members
    (
        "DescribeKey",
        {"KeyId": KEY_ID, "GrantTokens": {"a": "b"}},
        "Start of structure or map found where not expected",
    ),
    ("DescribeKey", {"KeyId": KEY_ID, "GrantTokens": "t"}, "Unexpected field type"),
    (
        "DescribeKey",
        {"KeyId": KEY_ID, "GrantTokens": [1]},
        "NUMBER_VALUE cannot be converted to String",
    ),
    # map members
    (
        "Encrypt",
        {"KeyId": KEY_ID, "Plaintext": "QQ==", "EncryptionContext": {"a": 1}},
        "NUMBER_VALUE cannot be converted to String",
    ),
    (
        "Encrypt",
        {"KeyId": KEY_ID, "Plaintext": "QQ==", "EncryptionContext": [["a", "b"]]},
        "Start of list found where not expected",
    ),
    (
        "Encrypt",
        {"KeyId": KEY_ID, "Plaintext": "QQ==", "EncryptionContext": "a=b"},
        "Unexpected field type",
    ),
    # structure members
    ("GenerateRandom", {"Recipient": []}, "Start of list found where not expected"),
    ("GenerateRandom", {"Recipient": "r"}, "Unexpected field type"),
    (
        "TagResource",
        {"KeyId": KEY_ID, "Tags": [["k", "v"]]},
        "Start of list found where not expected",
    ),
    # timestamp members
    (
        "ImportKeyMaterial",
        {
            "KeyId": KEY_ID,
            "ImportToken": "QQ==",
            "EncryptedKeyMaterial": "QQ==",
            "ValidTo": "2030-01-01T00:00:00Z",
        },
        "STRING_VALUE cannot be converted to Timestamp",
    ),
]


@pytest.mark.parametrize(("operation", "params", "expected"), TYPE_MISMATCHES)
def test_wrong_type_is_serialization_error(
    operation: str, params: dict[str, Any], expected: str
) -> None:
    assert serialization_message(operation, body(params)) == expected


def test_type_error_wins_over_constraint_errors() -> None:
    payload = body({"KeyId": "", "Plaintext": "QQ==", "GrantTokens": [True]})

    assert serialization_message("Encrypt", payload) == (
        "TRUE_VALUE cannot be converted to String"
    )


@pytest.mark.parametrize("valid_to", [1893456000, 1893456000.5])
def test_timestamp_accepts_epoch_seconds(valid_to: float) -> None:
    payload = body(
        {
            "KeyId": KEY_ID,
            "ImportToken": b64(b"token"),
            "EncryptedKeyMaterial": b64(b"material"),
            "ValidTo": valid_to,
        }
    )

    params = VALIDATOR.validate("ImportKeyMaterial", payload)

    assert params["ValidTo"] == valid_to
    assert params["ImportToken"] == b"token"


def test_infinite_timestamp_is_rejected() -> None:
    payload = b'{"KeyId": "k", "ImportToken": "QQ==", "EncryptedKeyMaterial": "QQ==",'
    payload += b' "ValidTo": 1e400}'

    message = serialization_message("ImportKeyMaterial", payload)

    assert message == "DECIMAL_VALUE cannot be converted to Timestamp"


# --- Base64 ---

BAD_BASE64 = [
    ("QQ=", "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
    ("QUJDRA", "Base64 encoded length is expected a multiple of 4 bytes but found: 6"),
    ("QUJD\n", "Base64 encoded length is expected a multiple of 4 bytes but found: 5"),
    ("QQ!=", "Invalid Base64 character or padding"),
    ("QUJD\nQUJ", "Invalid Base64 character or padding"),
    ("-_-_", "Invalid Base64 character or padding"),
    ("=QUJ", "Invalid Base64 character or padding"),
    ("QQ==QUJD", "Invalid Base64 character or padding"),
    ("QUJé", "Invalid Base64 character or padding"),
    ("QR==", "Invalid last non-pad Base64 character detected"),
    ("QUJ=", "Invalid last non-pad Base64 character detected"),
]


@pytest.mark.parametrize(("encoded", "expected"), BAD_BASE64)
def test_invalid_base64_blob_is_serialization_error(
    encoded: str, expected: str
) -> None:
    payload = body({"KeyId": KEY_ID, "Plaintext": encoded})

    message = serialization_message("Encrypt", payload)

    assert message == expected
    assert encoded not in message


def test_invalid_nested_base64_is_serialization_error() -> None:
    payload = body({"NumberOfBytes": 8, "Recipient": {"AttestationDocument": "QQ="}})

    message = serialization_message("GenerateRandom", payload)

    assert (
        message
        == "Base64 encoded length is expected a multiple of 4 bytes but found: 3"
    )


# --- Bodies that are not a JSON object ---

BAD_BODIES = [
    (b"[]", "Start of list found where not expected"),
    (b'"KeyId"', "Request body must be a JSON object"),
    (b"5", "Request body must be a JSON object"),
    (b"null", "Request body must be a JSON object"),
    (b"true", "Request body must be a JSON object"),
    (b"{", "Request body is not valid JSON"),
    (b" ", "Request body is not valid JSON"),
    (b'{"KeyId": "k",}', "Request body is not valid JSON"),
    (b'{"KeyId": "k"} {}', "Request body is not valid JSON"),
    (b'{"Limit": NaN}', "Request body is not valid JSON"),
    (b'{"Limit": Infinity}', "Request body is not valid JSON"),
    (b'{"Limit": -Infinity}', "Request body is not valid JSON"),
    (b'{"KeyId": "\xff"}', "Request body is not valid UTF-8"),
    ('{"KeyId": "k"}'.encode("utf-16"), "Request body is not valid UTF-8"),
    (b'\xef\xbb\xbf{"KeyId": "k"}', "Request body is not valid JSON"),
    (b'{"KeyId": "\\ud800"}', "Request body has an unpaired UTF-16 surrogate"),
]


@pytest.mark.parametrize(("payload", "expected"), BAD_BODIES)
def test_body_not_a_json_object_is_serialization_error(
    payload: bytes, expected: str
) -> None:
    assert serialization_message("DescribeKey", payload) == expected


def test_surrogate_pair_escape_is_accepted() -> None:
    params = VALIDATOR.validate("DescribeKey", b'{"KeyId": "\\ud83d\\ude00"}')

    assert params == {"KeyId": "\U0001f600"}


@pytest.mark.parametrize(
    "payload",
    [
        b'{"KeyId": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"KeyId": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001,
        b"[" * 1_000_000,
    ],
    ids=["deep-lists", "deep-objects", "unterminated"],
)
def test_deeply_nested_body_is_serialization_error(payload: bytes) -> None:
    message = serialization_message("DescribeKey", payload)

    assert message == "Request body is nested too deeply"


@pytest.mark.parametrize(
    "limit",
    [2**31, -(2**31) - 1, 10**40, 10**41],
    ids=["int32-max-plus-1", "int32-min-minus-1", "40-digits", "41-digits"],
)
def test_integer_outside_int32_is_serialization_error(limit: int) -> None:
    message = serialization_message("ListKeys", body({"Limit": limit}))

    assert message == "NUMBER_VALUE cannot be converted to Integer"


def test_integer_with_5000_digits_is_serialization_error() -> None:
    # Past Python's int() digit limit, which must not surface as a crash.
    payload = b'{"Limit": ' + b"9" * 5000 + b"}"

    message = serialization_message("ListKeys", payload)

    assert message == "NUMBER_VALUE cannot be converted to Integer"


def test_huge_number_in_unknown_member_is_ignored() -> None:
    payload = b'{"KeyId": "k", "Extra": ' + b"9" * 5000 + b"}"

    assert VALIDATOR.validate("DescribeKey", payload) == {"KeyId": "k"}


# --- Operations and the model ---


def test_unknown_operation_is_rejected() -> None:
    with pytest.raises(UnknownOperationException):
        VALIDATOR.validate("LaunchRocket", b"{}")


def test_every_kms_input_shape_compiles() -> None:
    # Compiling checks that every model pattern compiles with Python's re.
    validator = RequestValidator(load_kms_model())

    validator.compile_all()


def test_java_only_pattern_fails_at_compile_time() -> None:
    model = ServiceModel(
        {
            "metadata": {"protocol": "json", "apiVersion": "2014-11-01"},
            "operations": {
                "Name": {"name": "Name", "input": {"shape": "NameRequest"}},
            },
            "shapes": {
                "NameRequest": {
                    "type": "structure",
                    "members": {"Name": {"shape": "NameType"}},
                },
                "NameType": {"type": "string", "pattern": "\\p{L}+"},
            },
        },
        "test",
    )

    with pytest.raises(ValueError, match="Java-only"):
        RequestValidator(model).compile_all()


def test_load_validator_is_cached() -> None:
    assert load_validator() is load_validator()
