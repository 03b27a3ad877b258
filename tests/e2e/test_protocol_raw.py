"""The JSON 1.1 protocol edge, driven with raw signed HTTP instead of boto3.

boto3 checks parameters before sending, so only raw requests reach the
server's own checks: empty bodies for every action, values of the wrong type,
bodies that are not JSON, unknown targets, oversize bodies and requests
changed after signing. Every failure must come back as a KMS error body
(``{"__type", "message"}``, ``application/x-amz-json-1.1``, a request id),
never as a framework error or a stack trace.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.session
import pytest

# The actions KeyLedger implements; every other action of the model must be
# refused with UnsupportedOperationException rather than pretend to work.
IMPLEMENTED_ACTIONS = frozenset(
    {
        "CancelKeyDeletion",
        "CreateAlias",
        "CreateGrant",
        "CreateKey",
        "Decrypt",
        "DeleteAlias",
        "DeleteImportedKeyMaterial",
        "DescribeKey",
        "DisableKey",
        "DisableKeyRotation",
        "EnableKey",
        "EnableKeyRotation",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
        "GetKeyLastUsage",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "GetParametersForImport",
        "ImportKeyMaterial",
        "ListAliases",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeyRotations",
        "ListKeys",
        "ListResourceTags",
        "ListRetirableGrants",
        "PutKeyPolicy",
        "ReEncrypt",
        "RetireGrant",
        "RevokeGrant",
        "RotateKeyOnDemand",
        "ScheduleKeyDeletion",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateKeyDescription",
    }
)
# Implemented actions whose every member is optional, so an empty body works.
SUCCEED_WITH_EMPTY_BODY = frozenset({"CreateKey", "ListAliases", "ListKeys"})
# Required members that the model leaves optional but the service requires:
# API_GenerateRandom (NumberOfBytes), API_Decrypt and API_ReEncrypt
# (CiphertextBlob).
SERVICE_REQUIRED = {
    "GenerateRandom": None,
    "Decrypt": ["ciphertextBlob"],
}

KMS_MODEL = botocore.session.get_session().get_service_model("kms")
ALL_ACTIONS = sorted(KMS_MODEL.operation_names)
PLAINTEXT_B64 = base64.b64encode(b"protocol edge").decode("ascii")


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def test_model_has_the_56_actions_this_suite_covers() -> None:
    # The botocore KMS model of the installed botocore; a newer one adds
    # actions, which must then be classified here.
    assert len(ALL_ACTIONS) == 56
    assert set(ALL_ACTIONS) >= IMPLEMENTED_ACTIONS


@pytest.fixture
def key_id(raw: Any) -> str:
    key: str = raw.ok("CreateKey", {"Description": "protocol edge"})["KeyMetadata"][
        "KeyId"
    ]
    return key


# Every action with an empty body.


@pytest.mark.parametrize("body", [{}, None], ids=["empty-object", "no-body"])
@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_every_action_with_empty_body(
    raw: Any, kms_error_check: Any, action: str, body: dict[str, Any] | None
) -> None:
    response = raw.call(action, body)

    if action not in IMPLEMENTED_ACTIONS:
        kms_error_check(response, "UnsupportedOperationException")
        assert action in response.message
        return
    if action in SUCCEED_WITH_EMPTY_BODY:
        assert response.status == 200, response.body
        assert response.headers["content-type"] == "application/x-amz-json-1.1"
        assert response.headers.get("x-amzn-requestid")
        assert isinstance(response.json, dict)
        return

    kms_error_check(response, "ValidationException")
    required = KMS_MODEL.operation_model(action).input_shape.required_members
    for member in required:
        assert f"'{lower_camel(member)}'" in response.message, response.message
        assert "Member must not be null" in response.message
    for member in SERVICE_REQUIRED.get(action) or []:
        assert f"'{member}'" in response.message, response.message


def test_generate_random_without_number_of_bytes_is_rejected(
    raw: Any, kms_error_check: Any
) -> None:
    # API_GenerateRandom: NumberOfBytes "is required" though the model marks
    # it optional.
    response = raw.call("GenerateRandom", {})

    kms_error_check(response, "ValidationException")


def test_re_encrypt_without_ciphertext_is_rejected(
    raw: Any, kms_error_check: Any, key_id: str
) -> None:
    response = raw.call("ReEncrypt", {"DestinationKeyId": key_id})

    kms_error_check(response, "ValidationException")
    assert "'ciphertextBlob'" in response.message


def test_success_has_content_type_and_request_id(raw: Any) -> None:
    first = raw.call("ListKeys", {})
    second = raw.call("ListKeys", {})

    assert first.status == 200
    assert first.headers["content-type"] == "application/x-amz-json-1.1"
    assert first.headers["x-amzn-requestid"]
    assert first.headers["x-amzn-requestid"] != second.headers["x-amzn-requestid"]


# Values of the wrong JSON type: SerializationException before any handler.

WRONG_TYPES = {
    "string-given-number": ("Encrypt", {"KeyId": 12345, "Plaintext": PLAINTEXT_B64}),
    "string-given-boolean": ("Encrypt", {"KeyId": True, "Plaintext": PLAINTEXT_B64}),
    "string-given-object": ("DescribeKey", {"KeyId": {"a": "b"}}),
    "string-given-list": ("DescribeKey", {"KeyId": ["a"]}),
    "integer-given-string": ("GenerateRandom", {"NumberOfBytes": "16"}),
    "integer-given-boolean": ("GenerateRandom", {"NumberOfBytes": True}),
    "integer-given-float": ("GenerateRandom", {"NumberOfBytes": 16.5}),
    "integer-given-list": ("ListKeys", {"Limit": [10]}),
    "boolean-given-string": ("CreateKey", {"MultiRegion": "false"}),
    "boolean-given-number": ("CreateKey", {"BypassPolicyLockoutSafetyCheck": 0}),
    "blob-given-number": ("Encrypt", {"KeyId": "alias/x", "Plaintext": 42}),
    "blob-given-object": ("Encrypt", {"KeyId": "alias/x", "Plaintext": {}}),
    "blob-with-bad-base64": ("Encrypt", {"KeyId": "alias/x", "Plaintext": "@@@@"}),
    "blob-with-bad-padding": ("Encrypt", {"KeyId": "alias/x", "Plaintext": "aGk"}),
    "ciphertext-with-bad-base64": ("Decrypt", {"CiphertextBlob": "not base64!"}),
    "map-given-list": (
        "Encrypt",
        {"KeyId": "alias/x", "Plaintext": PLAINTEXT_B64, "EncryptionContext": []},
    ),
    "map-given-string": (
        "Encrypt",
        {"KeyId": "alias/x", "Plaintext": PLAINTEXT_B64, "EncryptionContext": "a=b"},
    ),
    "map-value-given-number": (
        "Encrypt",
        {"KeyId": "alias/x", "Plaintext": PLAINTEXT_B64, "EncryptionContext": {"a": 1}},
    ),
    "list-given-string": ("TagResource", {"KeyId": "alias/x", "Tags": "a=b"}),
    "list-given-object": ("UntagResource", {"KeyId": "alias/x", "TagKeys": {"a": 1}}),
    "list-item-given-string": ("TagResource", {"KeyId": "alias/x", "Tags": ["a"]}),
    "grant-tokens-given-string": ("DescribeKey", {"KeyId": "x", "GrantTokens": "t"}),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_wrong_member_type_is_serialization_error(
    raw: Any, kms_error_check: Any, case: str
) -> None:
    action, payload = WRONG_TYPES[case]

    response = raw.call(action, payload)

    kms_error_check(response, "SerializationException")


def test_bad_base64_message_does_not_echo_the_value(
    raw: Any, kms_error_check: Any
) -> None:
    secret_looking = "PLAINTEXT-CANARY-not-base64!"

    response = raw.call("Encrypt", {"KeyId": "alias/x", "Plaintext": secret_looking})

    kms_error_check(response, "SerializationException")
    assert b"PLAINTEXT-CANARY" not in response.body


# Bodies that are not one JSON object.

DEEP_NESTING = 100_000
MALFORMED_BODIES = {
    "truncated-json": b'{"KeyId": "abc"',
    "missing-value": b'{"KeyId": }',
    "trailing-garbage": b'{"KeyId": "abc"} x',
    "single-quotes": b"{'KeyId': 'abc'}",
    "top-level-array": b'[{"KeyId": "abc"}]',
    "top-level-string": b'"KeyId"',
    "top-level-number": b"42",
    "top-level-null": b"null",
    "invalid-utf8": b'{"KeyId": "\xff\xfe"}',
    "utf16-body": '{"KeyId": "abc"}'.encode("utf-16"),
    "nan-constant": b'{"Limit": NaN}',
    "lone-surrogate": b'{"KeyId": "\\ud800"}',
    "deep-array-nesting": b'{"Tags": '
    + b"[" * DEEP_NESTING
    + b"]" * DEEP_NESTING
    + b"}",
    "deep-object-nesting": b'{"KeyId": '
    + b'{"a": ' * DEEP_NESTING
    + b"1"
    + b"}" * DEEP_NESTING
    + b"}",
    "huge-integer": b'{"Limit": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_BODIES))
def test_malformed_body_is_serialization_error(
    raw: Any, kms_error_check: Any, case: str
) -> None:
    action = "ListKeys" if b"Limit" in MALFORMED_BODIES[case] else "DescribeKey"

    response = raw.call(action, MALFORMED_BODIES[case])

    if case == "huge-integer":
        # A number of 5,000 digits is valid JSON. It may be read and then fail
        # the range check instead, which is a clean 400 too.
        assert response.error_type in ("SerializationException", "ValidationException")
        kms_error_check(response, response.error_type)
        return
    kms_error_check(response, "SerializationException")


# Targets that name no KMS action.


@pytest.mark.parametrize(
    "target",
    [
        "TrentService.Nope",
        "TrentService.",
        "TrentService",
        "KMS.Encrypt",
        "trentservice.ListKeys",
        "TrentService.listKeys",
        "TrentService.ListKeys.Extra",
        "TrentService.List Keys",
        "DynamoDB_20120810.ListTables",
    ],
)
def test_unknown_target_is_unknown_operation(
    raw: Any, kms_error_check: Any, target: str
) -> None:
    request = raw.signed(None, {}, headers={"X-Amz-Target": target})

    response = raw.send(request)

    kms_error_check(response, "UnknownOperationException")


def test_missing_target_is_unknown_operation(raw: Any, kms_error_check: Any) -> None:
    response = raw.call(None, {})

    kms_error_check(response, "UnknownOperationException")


# Size limit.

MAX_BODY_BYTES = 1024 * 1024


def test_body_over_one_mebibyte_gets_clean_error(
    raw: Any, kms_error_check: Any
) -> None:
    body = b'{"Description": "' + b"x" * MAX_BODY_BYTES + b'"}'

    response = raw.call("CreateKey", body)

    kms_error_check(response, "RequestEntityTooLargeException", status=413)


def test_unsigned_oversize_body_gets_clean_error(
    raw_http: Any, server: Any, kms_error_check: Any
) -> None:
    request = raw_http.sign(server.endpoint, b"{}", raw_http.kms_headers("ListKeys"))
    request.headers.pop("Authorization")
    request.body = b" " * (MAX_BODY_BYTES + 1) + b"{}"

    response = raw_http.send(request)

    kms_error_check(response, "RequestEntityTooLargeException", status=413)


def test_chunked_oversize_body_gets_clean_error(
    raw: Any, raw_http: Any, kms_error_check: Any
) -> None:
    import httpx

    request = raw.signed("ListKeys", {})
    chunk = b" " * 65536

    def chunks() -> Any:
        for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
            yield chunk

    with httpx.Client(timeout=30) as client:
        sent = client.post(request.url, headers=request.headers, content=chunks())
    response = raw_http.to_raw_response(sent)

    kms_error_check(response, "RequestEntityTooLargeException", status=413)


def test_body_of_exactly_one_mebibyte_is_read(raw: Any) -> None:
    # Whitespace is valid JSON, so a padded ListKeys body reaches the limit
    # and must still be served.
    body = b"{}"
    body += b" " * (MAX_BODY_BYTES - len(body))

    response = raw.call("ListKeys", body)

    assert response.status == 200, response.body
    assert "Keys" in response.json


# Requests that do not go to POST /.


@pytest.mark.parametrize(
    "method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
)
def test_other_method_on_root_gets_kms_error(
    raw: Any, kms_error_check: Any, method: str
) -> None:
    response = raw.call("ListKeys", {}, method=method)

    kms_error_check(response, "UnknownOperationException")


@pytest.mark.parametrize("path", ["/other", "/kms", "/_keyledger/unknown", "//"])
def test_post_to_other_path_gets_kms_error(
    raw: Any, kms_error_check: Any, path: str
) -> None:
    response = raw.call("ListKeys", {}, path=path)

    kms_error_check(response, "UnknownOperationException")


@pytest.mark.parametrize("path", ["/", "/favicon.ico", "/docs", "/openapi.json"])
def test_unsigned_get_gets_kms_error(
    raw_http: Any, server: Any, kms_error_check: Any, path: str
) -> None:
    import httpx

    response = raw_http.to_raw_response(httpx.get(server.endpoint + path))

    kms_error_check(response, "UnknownOperationException")
    assert "detail" not in response.json


def test_dev_clock_is_refused_without_the_flag(server: Any) -> None:
    import httpx

    response = httpx.post(
        server.endpoint + "/_keyledger/dev-clock", json={"Seconds": 1}
    )
    unknown = httpx.post(server.endpoint + "/_keyledger/other", json={"Seconds": 1})
    parsed = json.loads(response.content)

    # The disabled endpoint answers as any unknown path, so a client cannot
    # tell that it exists.
    assert response.status_code == 400
    assert response.status_code == unknown.status_code
    assert parsed == json.loads(unknown.content)
    assert parsed["__type"] == "UnknownOperationException"
    assert response.headers["content-type"] == "application/x-amz-json-1.1"


# Requests changed after signing.


def test_changed_body_after_signing_is_rejected(
    raw: Any, kms_error_check: Any, key_id: str
) -> None:
    request = raw.signed("DescribeKey", {"KeyId": key_id})
    request.body = json.dumps({"KeyId": key_id.upper()}).encode()

    response = raw.send(request)

    kms_error_check(response, "InvalidSignatureException")


def test_changed_target_after_signing_is_rejected(
    raw: Any, kms_error_check: Any, key_id: str
) -> None:
    request = raw.signed("DescribeKey", {"KeyId": key_id})
    request.headers["X-Amz-Target"] = "TrentService.DisableKey"

    response = raw.send(request)

    kms_error_check(response, "InvalidSignatureException")
    assert raw.ok("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["Enabled"] is True


@pytest.mark.parametrize("name", ["Content-Type", "X-Amz-Date"])
def test_changed_signed_header_after_signing_is_rejected(
    raw: Any, kms_error_check: Any, name: str
) -> None:
    request = raw.signed("ListKeys", {})
    original = request.headers[name]
    # Move the timestamp one second, a value the signature never covered.
    changed_seconds = "01" if original[-3:-1] == "00" else "00"
    request.headers[name] = (
        "application/json"
        if name == "Content-Type"
        else original[:-3] + changed_seconds + "Z"
    )
    assert request.headers[name] != original

    response = raw.send(request)

    kms_error_check(response, "InvalidSignatureException")


@pytest.mark.parametrize("position", ["before", "after"])
def test_second_target_header_is_rejected(
    raw: Any, raw_http: Any, kms_error_check: Any, key_id: str, position: str
) -> None:
    import httpx

    request = raw.signed("DescribeKey", {"KeyId": key_id})
    headers = list(request.headers.items())
    extra = ("X-Amz-Target", "TrentService.DisableKey")
    headers = [extra, *headers] if position == "before" else [*headers, extra]

    sent = httpx.post(request.url, headers=headers, content=request.body)

    kms_error_check(raw_http.to_raw_response(sent), "InvalidSignatureException")
    assert raw.ok("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["Enabled"] is True


def test_removed_signed_header_is_rejected(raw: Any, kms_error_check: Any) -> None:
    request = raw.signed("ListKeys", {})
    del request.headers["Content-Type"]

    response = raw.send(request)

    kms_error_check(response, "InvalidSignatureException")


def test_changed_signature_is_rejected(raw: Any, kms_error_check: Any) -> None:
    request = raw.signed("ListKeys", {})
    authorization = request.headers["Authorization"]
    last = authorization[-1]
    request.headers["Authorization"] = authorization[:-1] + (
        "0" if last != "0" else "1"
    )

    response = raw.send(request)

    kms_error_check(response, "InvalidSignatureException")


def test_unsigned_extra_header_is_accepted(raw: Any) -> None:
    # Only the headers named in SignedHeaders are covered; proxies add others.
    request = raw.signed("ListKeys", {})
    request.headers["X-Forwarded-For"] = "192.0.2.1"

    response = raw.send(request)

    assert response.status == 200, response.body


def test_body_signed_as_unsigned_payload_is_rejected(
    raw_http: Any, server: Any, kms_error_check: Any
) -> None:
    request = raw_http.sign(
        server.endpoint,
        b"{}",
        {
            **raw_http.kms_headers("ListKeys"),
            "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
        },
    )

    response = raw_http.send(request)

    kms_error_check(response, "InvalidSignatureException")


# DryRun.


def test_encrypt_with_dry_run_reports_it_would_succeed(
    raw: Any, kms_error_check: Any, key_id: str
) -> None:
    response = raw.call(
        "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT_B64, "DryRun": True}
    )

    kms_error_check(response, "DryRunOperationException")
    assert b"CiphertextBlob" not in response.body


def test_encrypt_with_dry_run_false_works(raw: Any, key_id: str) -> None:
    result = raw.ok(
        "Encrypt", {"KeyId": key_id, "Plaintext": PLAINTEXT_B64, "DryRun": False}
    )

    assert result["KeyId"].endswith(key_id)


# Unsupported options of CreateKey are refused, never ignored.


@pytest.mark.parametrize(
    "payload",
    [
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
        {"KeyUsage": "GENERATE_VERIFY_MAC", "KeySpec": "HMAC_256"},
        {"Origin": "AWS_CLOUDHSM"},
        {"MultiRegion": True},
        {"CustomKeyStoreId": "cks-1234567890abcdef0"},
    ],
    ids=["rsa", "hmac", "cloudhsm", "multi-region", "custom-store"],
)
def test_create_key_with_unsupported_option_is_refused(
    raw: Any, kms_error_check: Any, payload: dict[str, Any]
) -> None:
    response = raw.call("CreateKey", payload)

    kms_error_check(response, "UnsupportedOperationException")


def test_malformed_input_never_leaks_python_internals(raw: Any, raw_http: Any) -> None:
    # Decrypt takes the ciphertext path, which the other tables above do not.
    for body in MALFORMED_BODIES.values():
        raw.call("Decrypt", body)
    for action, payload in WRONG_TYPES.values():
        raw.call(action, payload)

    assert len(raw.responses) == len(MALFORMED_BODIES) + len(WRONG_TYPES)
    for response in raw.responses:
        assert response.status in (400, 413), response.body
        raw_http.assert_no_python_leak(response.body)


def test_declared_oversize_body_is_refused_before_continue(server: Any) -> None:
    import socket

    head = (
        "POST / HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        "X-Amz-Target: TrentService.ListKeys\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        reply = b""
        # The status line and the body may arrive in separate segments.
        while not reply.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk

    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    assert b"100 Continue" not in reply
    assert b'"__type":"RequestEntityTooLargeException"' in rest.replace(b" ", b"")
