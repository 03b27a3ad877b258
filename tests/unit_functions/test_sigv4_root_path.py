"""The string to sign for ``POST /`` is built without botocore's signer.

Every KMS call is ``POST /`` with no query string, so the verifier builds its
canonical request directly there. These tests hold that string equal to the
one botocore's SigV4Auth builds, on headers chosen to differ in the ways its
canonical form normalizes: case and order of names, runs of spaces and tabs,
repeated headers and text beyond ASCII.
"""

from __future__ import annotations

import random

import pytest
from botocore.awsrequest import AWSRequest

from domain.errors import InvalidSignatureException
from functions.sigv4 import (
    _URL_BASE,
    _ReceivedRequestSigner,
    _root_string_to_sign,
    _SignedHeaders,
)

TIMESTAMP = "20261205T101500Z"
PAYLOAD_HASH = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def botocore_string_to_sign(values: dict[str, list[str]], region: str) -> bytes:
    request = AWSRequest(method="POST", url=_URL_BASE + "/", data=b"{}")
    request.headers["X-Amz-Content-SHA256"] = PAYLOAD_HASH
    request.context["timestamp"] = TIMESTAMP
    signer = _ReceivedRequestSigner(region, _SignedHeaders(values))
    canonical_request = signer.canonical_request(request)
    return str(signer.string_to_sign(request, canonical_request)).encode("utf-8")


def test_usual_botocore_headers_give_botocore_string() -> None:
    values = {
        "content-type": ["application/x-amz-json-1.1"],
        "host": ["127.0.0.1:8000"],
        "x-amz-date": [TIMESTAMP],
        "x-amz-target": ["TrentService.Encrypt"],
    }

    built = _root_string_to_sign("POST", values, PAYLOAD_HASH, TIMESTAMP, "eu-west-1")

    assert built == botocore_string_to_sign(values, "eu-west-1")
    assert built.startswith(
        b"AWS4-HMAC-SHA256\n20261205T101500Z\n20261205/eu-west-1/kms/aws4_request\n"
    )


def test_values_with_spaces_and_repeats_give_botocore_string() -> None:
    values = {
        "x-amz-target": ["  TrentService.Decrypt\t "],
        "host": ["example.test"],
        "x-custom": ["a   b", "\tc  d ", ""],
        "x-unicode": ["caf\u00e9 \u2028 \u00a0 end"],
    }

    built = _root_string_to_sign("post", values, PAYLOAD_HASH, TIMESTAMP, "us-east-1")

    assert built == botocore_string_to_sign(values, "us-east-1")


def test_random_headers_give_botocore_string() -> None:
    generator = random.Random(20261205)
    alphabet = "aZ09 \t-_.:;,=\u00e9\u3000\u200b\x0b\x1f"
    for _ in range(500):
        names = {
            "".join(generator.choices("abcxyz-", k=generator.randint(1, 6)))
            for _ in range(generator.randint(1, 6))
        } | {"host"}
        values = {
            name: [
                "".join(generator.choices(alphabet, k=generator.randint(0, 12)))
                for _ in range(generator.randint(1, 3))
            ]
            for name in names
        }

        built = _root_string_to_sign(
            "POST", values, PAYLOAD_HASH, TIMESTAMP, "ap-south-1"
        )

        assert built == botocore_string_to_sign(values, "ap-south-1"), values


def test_value_without_utf8_form_is_a_signature_mismatch() -> None:
    values = {"host": ["example.test"], "x-bad": ["\udcff"]}

    with pytest.raises(InvalidSignatureException):
        _root_string_to_sign("POST", values, PAYLOAD_HASH, TIMESTAMP, "us-east-1")
