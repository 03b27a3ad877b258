"""Tests for SigV4 verification, against requests signed by botocore itself.

botocore stamps the current time when it signs, so each test verifies with a
clock set from the request's own X-Amz-Date (or Date) header.
"""

from __future__ import annotations

import hashlib
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from domain.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    KMSError,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from domain.principal import Caller
from functions.credentials import Credential, CredentialStore
from functions.sigv4 import (
    CONTENT_SHA256_MISMATCH_MESSAGE,
    INVALID_SECURITY_TOKEN_MESSAGE,
    SIGNATURE_MISMATCH_MESSAGE,
    SigV4Verifier,
)

ACCESS_KEY_ID = "AKIAEXAMPLEAPP"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN_ACCESS_KEY_ID = "ASIAEXAMPLETOKEN"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
BODY = b'{"KeyId": "alias/app", "Plaintext": "UExBSU5URVhULU1BUktFUg=="}'
ENDPOINT = "http://localhost:8080"


@pytest.fixture(autouse=True)
def _no_aws_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore is only used to sign here, but keep any default lookup local.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")


@dataclass(frozen=True)
class Received:
    """A request as the server receives it."""

    method: str
    path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes
    time: datetime

    def header(self, name: str) -> str:
        values = [value for key, value in self.headers if key.lower() == name]
        assert len(values) == 1
        return values[0]

    def with_header(self, name: str, value: str) -> Received:
        """Replace every value of a header, or add the header."""
        headers = [(key, v) for key, v in self.headers if key.lower() != name]
        return replace(self, headers=[*headers, (name, value)])

    def without_header(self, name: str) -> Received:
        headers = [(key, v) for key, v in self.headers if key.lower() != name]
        return replace(self, headers=headers)


def sign(
    *,
    body: bytes = BODY,
    target: str | None = "TrentService.Encrypt",
    region: str = "us-east-1",
    service: str = "kms",
    access_key_id: str = ACCESS_KEY_ID,
    secret: str = SECRET,
    token: str | None = None,
    path: str = "/",
    params: dict[str, str] | None = None,
    headers: list[tuple[str, str]] | None = None,
    use_date_header: bool = False,
) -> Received:
    request = AWSRequest(method="POST", url=ENDPOINT + path, data=body, params=params)
    request.headers["Content-Type"] = "application/x-amz-json-1.1"
    if target is not None:
        request.headers["X-Amz-Target"] = target
    for name, value in headers or []:
        # HTTPHeaders keeps repeated names, as the wire does.
        request.headers[name] = value
    if use_date_header:
        # botocore then signs with a Date header and sends no X-Amz-Date.
        request.headers["Date"] = "placeholder"

    SigV4Auth(Credentials(access_key_id, secret, token), service, region).add_auth(
        request
    )

    prepared = request.prepare()
    _, _, rest = prepared.url.partition("://")
    _, _, path_and_query = rest.partition("/")
    raw_path, _, query_string = ("/" + path_and_query).partition("?")
    received = [(name.lower(), value) for name, value in request.headers.items()]
    # Headers that the HTTP client adds after signing.
    received += [
        ("host", "localhost:8080"),
        ("content-length", str(len(body))),
        ("accept-encoding", "identity"),
    ]
    if "X-Amz-Date" in request.headers:
        time = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        time = time.replace(tzinfo=UTC)
    else:
        time = parsedate_to_datetime(request.headers["Date"]).replace(tzinfo=UTC)
    return Received("POST", raw_path, query_string, received, body, time)


def store() -> CredentialStore:
    return CredentialStore(
        [
            Credential(
                access_key_id=ACCESS_KEY_ID,
                secret_access_key=SECRET,
                account_id="444455556666",
                arn="arn:aws:iam::444455556666:role/app",
            ),
            Credential(
                access_key_id=TOKEN_ACCESS_KEY_ID,
                secret_access_key=SECRET,
                account_id="444455556666",
                arn="arn:aws:iam::444455556666:role/temporary",
                session_token=TOKEN,
            ),
        ]
    )


def verify(received: Received, now: datetime | None = None) -> Caller:
    moment = received.time if now is None else now
    verifier = SigV4Verifier(store(), lambda: moment)
    return verifier.verify(
        received.method,
        received.path,
        received.query_string,
        received.headers,
        received.body,
    )


def rejection(received: Received, now: datetime | None = None) -> KMSError:
    with pytest.raises(KMSError) as error:
        verify(received, now)
    return error.value


def test_caller_comes_from_credential() -> None:
    received = sign()

    result = verify(received)

    assert result.principal.account_id == "444455556666"
    assert result.principal.arn == "arn:aws:iam::444455556666:role/app"
    assert result.principal.access_key_id == ACCESS_KEY_ID
    assert result.region == "us-east-1"


def test_region_comes_from_scope() -> None:
    received = sign(region="eu-west-1")

    caller = verify(received)

    assert caller.region == "eu-west-1"


def test_one_verifier_serves_several_regions() -> None:
    verifier = SigV4Verifier(store(), lambda: datetime.now(UTC))
    for region in ("us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"):
        received = sign(region=region)

        caller = verifier.verify("POST", "/", "", received.headers, received.body)

        assert caller.region == region


def test_body_changed_after_signing() -> None:
    received = replace(sign(), body=BODY.replace(b"alias/app", b"alias/xyz"))

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_signed_header_value_changed() -> None:
    received = sign().with_header("content-type", "application/json")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_target_header_changed() -> None:
    received = sign().with_header("x-amz-target", "TrentService.Decrypt")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_unsigned_target_header_is_rejected() -> None:
    received = sign(target=None).with_header("x-amz-target", "TrentService.Encrypt")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == (
        "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_unsigned_header_added() -> None:
    received = sign().with_header("x-forwarded-for", "10.0.0.1")

    caller = verify(received)

    assert caller.region == "us-east-1"


def test_signed_header_missing_from_request() -> None:
    received = sign().without_header("content-type")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_host_changed_after_signing() -> None:
    received = sign().with_header("host", "kms.internal:8080")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)


def test_wrong_secret() -> None:
    received = sign(secret="not-the-secret")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_unknown_access_key() -> None:
    received = sign(access_key_id="AKIAUNKNOWN")

    error = rejection(received)

    assert isinstance(error, UnrecognizedClientException)
    # AWS's UnrecognizedClientException message for an unknown access key.
    assert error.message == "The security token included in the request is invalid."


def test_missing_authorization() -> None:
    received = sign().without_header("authorization")

    error = rejection(received)

    assert isinstance(error, MissingAuthenticationTokenException)
    assert error.message == "Missing Authentication Token"


def test_presigned_query_is_not_accepted() -> None:
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={ACCESS_KEY_ID}%2F20261204%2Fus-east-1%2Fkms%2Faws4_request"
        "&X-Amz-Date=20261204T101010Z&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=" + "0" * 64
    )
    received = replace(sign().without_header("authorization"), query_string=query)

    error = rejection(received)

    assert isinstance(error, MissingAuthenticationTokenException)


@pytest.mark.parametrize(
    "authorization",
    [
        "garbage",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.signature",
        "AWS AKIAEXAMPLEAPP:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "",
    ],
)
def test_unsupported_algorithm(authorization: str) -> None:
    received = sign().with_header("authorization", authorization)

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert error.message.startswith("Unsupported AWS 'algorithm'")


def test_unsupported_algorithm_names_scheme() -> None:
    received = sign().with_header("authorization", "AWS AKIAEXAMPLEAPP:c2ln")

    error = rejection(received)

    assert error.message == "Unsupported AWS 'algorithm': 'AWS'."


def test_authorization_without_parameters() -> None:
    received = sign().with_header("authorization", "AWS4-HMAC-SHA256")

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    # AWS's wording, one sentence for each missing part, then the algorithm.
    assert error.message == (
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization=AWS4-HMAC-SHA256"
    )


def test_missing_date_header() -> None:
    received = sign().without_header("x-amz-date")

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert error.message == (
        "Authorization header requires existence of either a 'X-Amz-Date' "
        "or a 'Date' header. Authorization=AWS4-HMAC-SHA256"
    )


def test_authorization_missing_signature() -> None:
    original = sign()
    authorization = original.header("authorization").rsplit(", Signature=", 1)[0]
    received = original.with_header("authorization", authorization)

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert error.message == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization=AWS4-HMAC-SHA256"
    )


def test_authorization_element_without_equals() -> None:
    original = sign()
    authorization = original.header("authorization").replace("Signature=", "Signature ")
    received = original.with_header("authorization", authorization)

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert "not a valid key=value pair (missing equal-sign)" in error.message


def test_repeated_authorization_header() -> None:
    original = sign()
    received = replace(
        original, headers=[*original.headers, ("authorization", "AWS4-HMAC-SHA256")]
    )

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)


def test_authorization_separated_by_commas_only() -> None:
    original = sign()
    authorization = original.header("authorization").replace(", ", ",")
    received = original.with_header("authorization", authorization)

    caller = verify(received)

    assert caller.region == "us-east-1"


def test_host_must_be_signed() -> None:
    original = sign()
    authorization = original.header("authorization").replace(";host;", ";")
    received = original.with_header("authorization", authorization)

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )


def test_malformed_signature_value() -> None:
    original = sign()
    signature = original.header("authorization").rsplit("Signature=", 1)[1]
    authorization = original.header("authorization").replace(
        signature, signature.upper()
    )
    received = original.with_header("authorization", authorization)

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_sixteen_minutes_late() -> None:
    received = sign()
    now = received.time + timedelta(minutes=16)

    error = rejection(received, now)

    stamp = received.time.strftime("%Y%m%dT%H%M%SZ")
    bound = (now - timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
    current = now.strftime("%Y%m%dT%H%M%SZ")
    assert isinstance(error, InvalidSignatureException)
    # The form AWS services return, for example "Signature expired:
    # 20140325T143453Z is now earlier than 20140325T143751Z (20140325T145251Z
    # - 15 min.)".
    assert error.message == (
        f"Signature expired: {stamp} is now earlier than {bound} ({current} - 15 min.)"
    )


def test_sixteen_minutes_early() -> None:
    received = sign()
    now = received.time - timedelta(minutes=16)

    error = rejection(received, now)

    stamp = received.time.strftime("%Y%m%dT%H%M%SZ")
    bound = (now + timedelta(minutes=15)).strftime("%Y%m%dT%H%M%SZ")
    current = now.strftime("%Y%m%dT%H%M%SZ")
    assert isinstance(error, InvalidSignatureException)
    assert error.message == (
        f"Signature not yet current: {stamp} is still later than {bound} "
        f"({current} + 15 min.)"
    )


@pytest.mark.parametrize("minutes", [-15, -14, 14, 15])
def test_within_fifteen_minutes(minutes: int) -> None:
    received = sign()
    now = received.time + timedelta(minutes=minutes, microseconds=999_999)

    caller = verify(received, now)

    assert caller.region == "us-east-1"


def test_naive_clock_is_utc() -> None:
    received = sign()

    caller = verify(received, received.time.replace(tzinfo=None))

    assert caller.region == "us-east-1"


def test_date_header_instead_of_amz_date() -> None:
    received = sign(use_date_header=True)

    assert all(name != "x-amz-date" for name, _ in received.headers)
    caller = verify(received)
    assert caller.region == "us-east-1"


def test_bad_amz_date_format() -> None:
    received = sign().with_header("x-amz-date", "2026-12-04T10:10:10Z")

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert error.message == (
        "Date must be in ISO-8601 'basic format'. Got '2026-12-04T10:10:10Z'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_scope_date_differs_from_amz_date() -> None:
    original = sign()
    next_day = original.time + timedelta(days=1)
    received = original.with_header("x-amz-date", next_day.strftime("%Y%m%dT%H%M%SZ"))

    error = rejection(received, next_day)

    scope_date = original.time.strftime("%Y%m%d")
    assert isinstance(error, InvalidSignatureException)
    # IAM User Guide, "Troubleshoot signed requests for AWS APIs".
    assert error.message == (
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
        f"of date from HTTP: '{scope_date}' != '{next_day:%Y%m%d}', "
        f"from '{next_day:%Y%m%dT%H%M%SZ}'."
    )


def test_scope_for_other_service() -> None:
    received = sign(service="s3")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    # IAM User Guide, "Troubleshoot signed requests for AWS APIs".
    assert error.message == "Credential should be scoped to correct service: 'kms'."


@pytest.mark.parametrize("region", ["nowhere", "US-EAST-1", "us-east", "local"])
def test_scope_with_invalid_region(region: str) -> None:
    received = sign(region=region)

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == (
        f"Credential should be scoped to a valid region, not '{region}'."
    )


def test_scope_with_wrong_terminator() -> None:
    original = sign()
    authorization = original.header("authorization").replace(
        "/aws4_request", "/aws5_request"
    )
    received = original.with_header("authorization", authorization)

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == (
        "Credential should be scoped with a valid terminator: 'aws4_request', "
        "not 'aws5_request'."
    )


def test_credential_without_scope() -> None:
    original = sign()
    authorization = original.header("authorization")
    credential = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    received = original.with_header(
        "authorization", authorization.replace(credential, ACCESS_KEY_ID)
    )

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert error.message == (
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        f"keyid/date/region/service/term, got '{ACCESS_KEY_ID}'"
    )


def test_session_token_accepted() -> None:
    received = sign(access_key_id=TOKEN_ACCESS_KEY_ID, token=TOKEN)

    caller = verify(received)

    assert caller.principal.arn == "arn:aws:iam::444455556666:role/temporary"


def test_session_token_required() -> None:
    received = sign(access_key_id=TOKEN_ACCESS_KEY_ID)

    error = rejection(received)

    assert isinstance(error, UnrecognizedClientException)
    assert error.message == INVALID_SECURITY_TOKEN_MESSAGE


def test_session_token_mismatched() -> None:
    received = sign(access_key_id=TOKEN_ACCESS_KEY_ID, token=TOKEN + "x")

    error = rejection(received)

    assert isinstance(error, UnrecognizedClientException)
    assert error.message == INVALID_SECURITY_TOKEN_MESSAGE


def test_session_token_not_declared() -> None:
    received = sign(token=TOKEN)

    error = rejection(received)

    assert isinstance(error, UnrecognizedClientException)
    assert error.message == INVALID_SECURITY_TOKEN_MESSAGE


def test_non_ascii_session_token_mismatched() -> None:
    received = sign(access_key_id=TOKEN_ACCESS_KEY_ID, token=TOKEN).with_header(
        "x-amz-security-token", "\u00e9t\u00e9"
    )

    error = rejection(received)

    assert isinstance(error, UnrecognizedClientException)


def test_content_sha256_matching_body() -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    received = sign(headers=[("X-Amz-Content-SHA256", digest)])

    caller = verify(received)

    assert caller.region == "us-east-1"


def test_content_sha256_mismatch() -> None:
    digest = hashlib.sha256(b"another body").hexdigest()
    received = sign(headers=[("X-Amz-Content-SHA256", digest)])

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == CONTENT_SHA256_MISMATCH_MESSAGE


def test_content_sha256_after_body_change() -> None:
    digest = hashlib.sha256(BODY).hexdigest()
    received = replace(sign(headers=[("X-Amz-Content-SHA256", digest)]), body=b"{}")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == CONTENT_SHA256_MISMATCH_MESSAGE


def test_unsigned_payload_is_rejected() -> None:
    received = sign(headers=[("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD")])

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert "'UNSIGNED-PAYLOAD' is not supported" in error.message


def test_header_names_in_other_case() -> None:
    original = sign()
    headers = [(name.title(), value) for name, value in original.headers]
    received = replace(original, headers=headers)

    caller = verify(received)

    assert caller.region == "us-east-1"


def test_repeated_header_values() -> None:
    received = sign(headers=[("X-Custom", "first"), ("X-Custom", "second")])

    assert [value for name, value in received.headers if name == "x-custom"] == [
        "first",
        "second",
    ]
    caller = verify(received)
    assert caller.region == "us-east-1"


def test_repeated_header_values_reordered() -> None:
    original = sign(headers=[("X-Custom", "first"), ("X-Custom", "second")])
    others = [(name, value) for name, value in original.headers if name != "x-custom"]
    received = replace(
        original, headers=[*others, ("x-custom", "second"), ("x-custom", "first")]
    )

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)


def test_header_whitespace_is_folded() -> None:
    received = sign(headers=[("X-Custom", "  several   spaced  words ")])

    caller = verify(received)

    assert caller.region == "us-east-1"


def test_query_string_is_signed() -> None:
    received = sign(params={"flag": "a b", "list": "x/y"})

    assert received.query_string
    caller = verify(received)
    assert caller.region == "us-east-1"


def test_query_string_changed() -> None:
    received = replace(sign(params={"flag": "a"}), query_string="flag=b")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)


def test_encoded_path_is_signed() -> None:
    received = sign(path="/some%20path/x")

    assert received.path == "/some%20path/x"
    caller = verify(received)
    assert caller.region == "us-east-1"


def test_path_changed() -> None:
    received = replace(sign(), path="/other")

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)


def rejected_requests() -> Iterator[tuple[str, Received, datetime | None]]:
    original = sign()
    signature = original.header("authorization").rsplit("Signature=", 1)[1]
    yield "body changed", replace(original, body=b"{}"), None
    yield "wrong secret", sign(secret="other"), None
    yield "late", original, original.time + timedelta(hours=1)
    yield "other service", sign(service="s3"), None
    yield (
        "no equals",
        original.with_header(
            "authorization", original.header("authorization").replace("=", " ")
        ),
        None,
    )
    yield (
        "signature alone",
        original.with_header("authorization", f"AWS4-HMAC-SHA256 {signature}"),
        None,
    )
    yield "bearer", original.with_header("authorization", signature), None
    yield "unsigned payload", sign(headers=[("X-Amz-Content-SHA256", "x")]), None


def test_messages_hide_secret_signature_body() -> None:
    for case, received, now in rejected_requests():
        signature = received.header("authorization").rsplit("Signature=", 1)[-1]

        error = rejection(received, now)

        assert SECRET not in str(error), case
        assert signature[-64:] not in str(error), case
        assert "UExBSU5URVhULU1BUktFUg" not in str(error), case


def test_undecodable_header_value() -> None:
    received = sign(headers=[("X-Custom", "value")]).with_header(
        "x-custom", b"\xff".decode("utf-8", "surrogateescape")
    )

    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


def test_non_utc_clock() -> None:
    received = sign()
    eastern = timezone(timedelta(hours=-5))

    caller = verify(received, received.time.astimezone(eastern))

    assert caller.region == "us-east-1"


def test_expiry_message_uses_utc() -> None:
    received = sign()
    now = received.time + timedelta(hours=1)
    eastern = timezone(timedelta(hours=-5))

    error = rejection(received, now.astimezone(eastern))

    assert f"({now:%Y%m%dT%H%M%SZ} - 15 min.)" in error.message


@pytest.mark.parametrize(
    "date",
    [
        # Its UTC time is in the year 10000, past what datetime can hold.
        "Fri, 31 Dec 9999 23:59:59 -2359",
        # email.utils reads a year below 100 as 19xx or 20xx.
        "Fri, 31 Dec 0000 23:59:59 GMT",
        "Sun, 30 Feb 2025 10:00:00 GMT",
        "Fri, 09 May 2025 24:00:00 GMT",
        "Fri, 09 May 2025 10:00:00 +0060",
        "Fri, 09 May 99999999999999999999 10:00:00 GMT",
        "Friday, 09-May-25 10:00:00 GMT",
    ],
)
def test_impossible_date_header_is_malformed(date: str) -> None:
    received = sign(use_date_header=True).with_header("date", date)

    error = rejection(received)

    assert isinstance(error, IncompleteSignatureException)
    assert error.message == (
        f"Date must be in ISO-8601 'basic format'. Got '{date[:64]}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def test_date_header_with_offset_is_converted_to_utc() -> None:
    original = sign(use_date_header=True)
    eastern = original.time.astimezone(timezone(timedelta(hours=-5)))
    received = original.with_header(
        "date", eastern.strftime("%a, %d %b %Y %H:%M:%S -0500")
    )

    # The signature covers the Date header's value, so the rewritten header
    # fails the signature check, after the date passed the format check.
    error = rejection(received)

    assert isinstance(error, InvalidSignatureException)
    assert error.message == SIGNATURE_MISMATCH_MESSAGE


_FUZZ_PIECES = (
    "AWS4-HMAC-SHA256",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    f"{ACCESS_KEY_ID}/20260101/us-east-1/kms/aws4_request",
    "host;date;x-amz-date;x-amz-target",
    "0" * 64,
    "Fri, 31 Dec 9999 23:59:59 -2359",
    "Sat, 01 Jan 0000 00:00:00 +2359",
    "20260101T000000Z",
    "99999999999999999999",
    "UNSIGNED-PAYLOAD",
    ",",
    ";",
    " ",
    "=",
    "/",
    "%",
    "\x00",
    "\xff",
    "\udcff",
    "\u0661",
)
_FUZZ_HEADERS = (
    "authorization",
    "x-amz-date",
    "date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "x-amz-target",
    "host",
)


def _fuzz_text(generator: random.Random) -> str:
    return "".join(
        generator.choice(_FUZZ_PIECES)
        if generator.random() < 0.7
        else generator.choice(string.printable)
        for _ in range(generator.randrange(12))
    )


def test_random_headers_raise_only_kms_errors() -> None:
    generator = random.Random(20260101)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    verifier = SigV4Verifier(store(), lambda: moment)
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20260101/us-east-1/kms/"
        "aws4_request, SignedHeaders={}, Signature=" + "0" * 64
    )
    unexpected: list[tuple[str, str]] = []

    for _ in range(20000):
        headers = [
            (name, _fuzz_text(generator))
            for name in _FUZZ_HEADERS
            if generator.random() < 0.8
        ]
        if generator.random() < 0.5:
            # A well-formed Authorization header gets the request past the
            # first checks to the date, scope and signature ones.
            signed = generator.choice(["host", "host;date", _fuzz_text(generator)])
            headers.append(("authorization", authorization.format(signed)))
        path = generator.choice(["/", "/" + _fuzz_text(generator)])
        try:
            verifier.verify("POST", path, _fuzz_text(generator), headers, b"{}")
        except KMSError:
            pass
        except Exception as error:
            # Every other type is the failure this test looks for.
            unexpected.append((type(error).__name__, repr(headers)))

    assert unexpected == []
