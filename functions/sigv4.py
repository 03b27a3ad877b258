"""Verification of AWS Signature Version 4 on incoming requests.

The verifier rebuilds the request from what arrived. It keeps only the headers
the client named in ``SignedHeaders``, with the values it sent, and takes the
timestamp from ``X-Amz-Date`` (or ``Date``), the Region from the credential
scope and the SHA-256 of the body actually received. botocore's ``SigV4Auth``
then computes the canonical request and the string to sign, so the canonical
form is the one botocore signs with. Only the HMAC chain is computed here, so
that the derived signing key can be cached per (secret, date, Region).

Error names and messages follow what AWS services return for the same faults.
No message carries a secret, a signature or the request body.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple
from urllib.parse import unquote_plus

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from domain.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from domain.principal import Caller
from functions.credentials import CredentialStore

SERVICE = "kms"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)

MISSING_AUTHENTICATION_TOKEN_MESSAGE = "Missing Authentication Token"  # noqa: S105
INVALID_SECURITY_TOKEN_MESSAGE = (
    "The security token included in the request is invalid."  # noqa: S105
)
SIGNATURE_MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you "
    "provided. Check your AWS Secret Access Key and signing method. Consult "
    "the service documentation for details."
)
# S3's wording for the same fault (XAmzContentSHA256Mismatch).
CONTENT_SHA256_MISMATCH_MESSAGE = (
    "The provided 'x-amz-content-sha256' header does not match what was computed."
)

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")
_ISO8601_BASIC = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_MONTHS = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
# RFC 5322 date-time, as in the HTTP Date header: "Fri, 09 May 2025 10:00:00
# GMT" or with a "+hhmm" or "-hhmm" zone. The day name is optional, and
# seconds too, as RFC 5322 allows.
_HTTP_DATE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ?)?([0-9]{1,2}) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2})(?::([0-9]{2}))? (GMT|UTC?|[+-][0-9]{4})",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_AUTH_SCHEME = re.compile(r"[A-Za-z0-9-]{1,32}")
# The layout botocore sends, parsed in one step before the general parser.
# Values hold printable ASCII other than space and comma, so the general
# parser would split this layout the same way.
_USUAL_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([!-+\--~]+), ?SignedHeaders=([!-+\--~]+), ?"
    r"Signature=([0-9a-f]{64})"
)
# The request URL only carries the path to botocore, which never contacts it.
_URL_BASE = "http://keyledger.invalid"


class _AuthorizationHeader(NamedTuple):
    credential: str
    signed_headers: str
    signature: str


class _SignedHeaders:
    """The client's signed headers, shaped as botocore's canonical_headers reads them.

    botocore iterates it for the header names and calls ``get_all`` for each
    name's values, which it trims and joins with commas in the order received.
    """

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, list[str]]) -> None:
        self._values = values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def get_all(self, name: str) -> list[str]:
        return self._values[name]


class _ReceivedRequestSigner(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 signer, made to use exactly the client's signed headers."""

    def __init__(self, region: str, signed_headers: _SignedHeaders) -> None:
        # No credentials are needed because only canonical_request and
        # string_to_sign are called.
        super().__init__(None, SERVICE, region)
        self._signed_headers = signed_headers

    def headers_to_sign(self, request: AWSRequest) -> _SignedHeaders:
        return self._signed_headers


class SigV4Verifier:
    """Authenticates KMS requests signed with AWS Signature Version 4.

    ``now`` must be the wall clock, because a clock moved forward for testing
    would expire every freshly signed request.
    """

    def __init__(
        self, credentials: CredentialStore, now: Callable[[], datetime]
    ) -> None:
        self._credentials = credentials
        self.credentials = credentials
        """The declared principals, for checks that name them (key policies)."""
        self._now = now
        self._signing_key = functools.lru_cache(maxsize=1024)(_derive_signing_key)

    def verify(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: Sequence[tuple[str, str]],
        body: bytes,
        source_ip: str = "",
    ) -> Caller:
        """Return the caller that signed this request, or raise a KMS error.

        ``path`` and ``query_string`` are as they arrived on the wire, still
        percent-encoded. ``headers`` are (name, value) pairs in the order
        received, repeats included. Header values are encoded as UTF-8 in the
        canonical request, as botocore does when signing.
        """
        received = _group_headers(headers)
        authorization = _parse_authorization(received)
        timestamp = _request_timestamp(received)
        _require_parameters(authorization, timestamp)
        signed_names = _signed_header_names(authorization.signed_headers, received)

        request_time = _parse_timestamp(timestamp)
        self._check_clock_skew(request_time, timestamp)
        access_key_id, region = _check_scope(authorization.credential, timestamp)

        credential = self._credentials.get(access_key_id)
        if credential is None:
            raise UnrecognizedClientException(INVALID_SECURITY_TOKEN_MESSAGE)
        _check_security_token(credential.session_token, received)

        payload_hash = hashlib.sha256(body).hexdigest()
        _check_content_sha256(payload_hash, received)

        string_to_sign = _string_to_sign(
            method,
            path,
            query_string,
            body,
            _signed_values(signed_names, received),
            payload_hash,
            timestamp,
            region,
        )
        signing_key = self._signing_key(
            credential.secret_access_key, timestamp[:8], region
        )
        expected = hmac.digest(signing_key, string_to_sign, "sha256").hex()
        # compare_digest takes str only when it is ASCII, which the pattern ensures.
        signature = authorization.signature
        if not _SIGNATURE.fullmatch(signature):
            raise InvalidSignatureException(SIGNATURE_MISMATCH_MESSAGE)
        if not hmac.compare_digest(expected, signature):
            raise InvalidSignatureException(SIGNATURE_MISMATCH_MESSAGE)

        return Caller(
            principal=credential.principal, region=region, source_ip=source_ip
        )

    def _check_clock_skew(self, request_time: datetime, timestamp: str) -> None:
        now = self._now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        # Compare whole seconds, the precision of X-Amz-Date and of the message.
        now = now.astimezone(UTC).replace(microsecond=0)
        skew = request_time - now
        if skew < -MAX_CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature expired: {timestamp} is now earlier than "
                f"{_format_timestamp(now - MAX_CLOCK_SKEW)} "
                f"({_format_timestamp(now)} - 15 min.)"
            )
        if skew > MAX_CLOCK_SKEW:
            raise InvalidSignatureException(
                f"Signature not yet current: {timestamp} is still later than "
                f"{_format_timestamp(now + MAX_CLOCK_SKEW)} "
                f"({_format_timestamp(now)} + 15 min.)"
            )


def _group_headers(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    received: dict[str, list[str]] = {}
    for name, value in headers:
        received.setdefault(name.lower(), []).append(value)
    return received


def _parse_authorization(received: dict[str, list[str]]) -> _AuthorizationHeader:
    values = received.get("authorization")
    if not values:
        # Presigned query parameters are not supported, so a request that
        # carries only those is treated as unsigned.
        raise MissingAuthenticationTokenException(MISSING_AUTHENTICATION_TOKEN_MESSAGE)
    if len(values) > 1:
        raise IncompleteSignatureException(
            "The request carries more than one Authorization header."
        )

    usual = _USUAL_AUTHORIZATION.fullmatch(values[0])
    if usual is not None:
        return _AuthorizationHeader(*usual.groups())

    scheme, _, rest = values[0].strip().partition(" ")
    if scheme != ALGORITHM:
        # Echo the scheme only when it looks like one, never a bare token.
        if rest and _AUTH_SCHEME.fullmatch(scheme):
            raise IncompleteSignatureException(
                f"Unsupported AWS 'algorithm': '{scheme}'."
            )
        raise IncompleteSignatureException("Unsupported AWS 'algorithm'.")

    parameters: dict[str, str] = {}
    for element in rest.split(","):
        element = element.strip()
        if not element:
            continue
        name, equals, value = element.partition("=")
        if not equals:
            # AWS quotes the element and the whole header here. Neither is
            # echoed because either may contain the signature.
            raise IncompleteSignatureException(
                "An element of the Authorization header is not a valid "
                "key=value pair (missing equal-sign)."
            )
        parameters.setdefault(name.strip(), value.strip())

    return _AuthorizationHeader(
        credential=parameters.get("Credential", ""),
        signed_headers=parameters.get("SignedHeaders", ""),
        signature=parameters.get("Signature", ""),
    )


def _request_timestamp(received: dict[str, list[str]]) -> str:
    """Return the request time as sent, in ISO 8601 basic format where possible.

    X-Amz-Date overrides Date when both are present (AWS KMS API reference,
    Common Parameters). A repeated header is joined with commas, so it fails
    the format check instead of picking one value.
    """
    amz_date = received.get("x-amz-date")
    if amz_date:
        return ",".join(amz_date)
    date = received.get("date")
    if not date:
        return ""
    value = ",".join(date)
    if _ISO8601_BASIC.fullmatch(value):
        return value
    parsed = _parse_http_date(value)
    if parsed is None:
        # Returned as sent, the value fails the format check with the usual
        # IncompleteSignatureException.
        return value
    return _format_timestamp(parsed)


def _parse_http_date(value: str) -> datetime | None:
    """Return an RFC 5322 date-time as an aware UTC datetime, or None.

    Only the form HTTP clients send is accepted: a four-digit year and a
    numeric or GMT/UT/UTC zone. botocore writes the zone as "-0000", which
    means UTC. A date that does not exist, or whose UTC time falls outside
    the years 1000 to 9999, is None: email.utils would read the year 0000 as
    2000, and its conversion to UTC can overflow.
    """
    match = _HTTP_DATE.fullmatch(value.strip())
    if match is None:
        return None
    day, month, year, hour, minute, second, zone = match.groups()
    if zone.upper() in ("GMT", "UT", "UTC"):
        offset = timedelta(0)
    else:
        zone_hours, zone_minutes = int(zone[1:3]), int(zone[3:5])
        if zone_minutes >= 60:
            return None
        offset = timedelta(hours=zone_hours, minutes=zone_minutes)
        if zone[0] == "-":
            offset = -offset
    try:
        local = datetime(
            int(year),
            _MONTHS.index(month.title()) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            tzinfo=timezone(offset),
        )
        parsed = local.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    if parsed.year < 1000:
        return None
    return parsed


def _require_parameters(authorization: _AuthorizationHeader, timestamp: str) -> None:
    problems = []
    if not authorization.credential:
        problems.append("Authorization header requires 'Credential' parameter.")
    if not authorization.signature:
        problems.append("Authorization header requires 'Signature' parameter.")
    if not authorization.signed_headers:
        problems.append("Authorization header requires 'SignedHeaders' parameter.")
    if not timestamp:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' "
            "or a 'Date' header."
        )
    if problems:
        problems.append(f"Authorization={ALGORITHM}")
        raise IncompleteSignatureException(" ".join(problems))


def _signed_header_names(
    signed_headers: str, received: dict[str, list[str]]
) -> list[str]:
    names = [name.strip().lower() for name in signed_headers.split(";")]
    if "" in names:
        raise IncompleteSignatureException(
            "SignedHeaders in the Authorization header contains an empty header name."
        )
    if "host" not in names:
        raise InvalidSignatureException(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    # X-Amz-Target selects the KMS action. Unsigned, a captured request could
    # be replayed as a different action with the same body.
    if "x-amz-target" in received and "x-amz-target" not in names:
        raise InvalidSignatureException(
            "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
        )
    return names


# Requests signed in the same second share their timestamp, and a client
# signs with few credential scopes, so both parses are kept. A value that
# fails raises, and is not kept.
@functools.lru_cache(maxsize=256)
def _parse_timestamp(timestamp: str) -> datetime:
    # The pattern check comes first because fromisoformat also accepts forms
    # that SigV4 does not, such as offsets and fractional seconds.
    try:
        if not _ISO8601_BASIC.fullmatch(timestamp):
            raise ValueError(timestamp)
        return datetime.fromisoformat(timestamp)
    except ValueError:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{timestamp[:64]}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


@functools.lru_cache(maxsize=256)
def _check_scope(credential: str, timestamp: str) -> tuple[str, str]:
    """Return the access key id and Region of a valid credential scope."""
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{credential[:256]}'"
        )
    access_key_id, date, region, service, terminator = parts

    problems = []
    if not _REGION.fullmatch(region):
        problems.append(
            f"Credential should be scoped to a valid region, not '{region[:64]}'."
        )
    if service != SERVICE:
        problems.append(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if terminator != "aws4_request":
        problems.append(
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{terminator[:64]}'."
        )
    if date != timestamp[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
            f"version of date from HTTP: '{date[:64]}' != '{timestamp[:8]}', "
            f"from '{timestamp}'."
        )
    if problems:
        raise InvalidSignatureException(" ".join(problems))
    return access_key_id, region


def _check_security_token(
    session_token: str | None, received: dict[str, list[str]]
) -> None:
    presented = ",".join(received.get("x-amz-security-token", ()))
    if session_token is None:
        if presented:
            raise UnrecognizedClientException(INVALID_SECURITY_TOKEN_MESSAGE)
        return
    if not hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), session_token.encode("utf-8")
    ):
        raise UnrecognizedClientException(INVALID_SECURITY_TOKEN_MESSAGE)


def _check_content_sha256(payload_hash: str, received: dict[str, list[str]]) -> None:
    values = received.get("x-amz-content-sha256")
    if values is None:
        return
    declared = ",".join(values)
    if declared == payload_hash:
        return
    # botocore signs the payload of every KMS request. A request that opts out
    # would leave its body, which carries plaintext and key ids, unauthenticated.
    if declared.startswith(("UNSIGNED-", "STREAMING-")):
        raise InvalidSignatureException(
            f"X-Amz-Content-SHA256 {declared[:64]!r} is not supported: KMS "
            "requests must sign the payload, so send the hex SHA-256 of the body."
        )
    raise InvalidSignatureException(CONTENT_SHA256_MISMATCH_MESSAGE)


def _string_to_sign(
    method: str,
    path: str,
    query_string: str,
    body: bytes,
    signed_values: dict[str, list[str]],
    payload_hash: str,
    timestamp: str,
    region: str,
) -> bytes:
    """Return botocore's string to sign for the request as received, as UTF-8."""
    # A path that is not absolute, or that would split into a query or a
    # fragment, cannot be what a client signed.
    if not path.startswith("/") or "?" in path or "#" in path:
        raise InvalidSignatureException(SIGNATURE_MISMATCH_MESSAGE)
    if path == "/" and not query_string:
        return _root_string_to_sign(
            method, signed_values, payload_hash, timestamp, region
        )

    request = AWSRequest(
        method=method,
        url=_URL_BASE + path,
        data=body,
        params=_query_parameters(query_string),
    )
    # canonical_request takes the payload line from this header when present,
    # so the body hash comes from the bytes received, never from the client.
    request.headers["X-Amz-Content-SHA256"] = payload_hash
    request.context["timestamp"] = timestamp

    signer = _ReceivedRequestSigner(region, _SignedHeaders(signed_values))
    try:
        canonical_request: str = signer.canonical_request(request)
        string_to_sign: str = signer.string_to_sign(request, canonical_request)
        return string_to_sign.encode("utf-8")
    except UnicodeEncodeError:
        # Text decoded with surrogate escapes has no UTF-8 form to sign.
        raise InvalidSignatureException(SIGNATURE_MISMATCH_MESSAGE) from None


def _root_string_to_sign(
    method: str,
    signed_values: dict[str, list[str]],
    payload_hash: str,
    timestamp: str,
    region: str,
) -> bytes:
    """Return botocore's string to sign for ``POST /`` with no query string.

    Every KMS call has that form. Building the canonical request here, line
    for line as botocore's SigV4Auth.canonical_request and string_to_sign
    build it, costs a third of going through an AWSRequest and the signer.
    tests/unit_functions/test_sigv4_root_path.py compares the two on varied
    headers. The names in ``signed_values`` are lower-case and stripped, as
    :func:`_signed_header_names` gives them.
    """
    names = sorted(signed_values)
    header_lines = "".join(
        f"{name}:{','.join(' '.join(value.split()) for value in signed_values[name])}\n"
        for name in names
    )
    signed_names = ";".join(names)
    canonical_request = (
        f"{method.upper()}\n/\n\n{header_lines}\n{signed_names}\n{payload_hash}"
    )
    try:
        digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:
        # Text decoded with surrogate escapes has no UTF-8 form to sign.
        raise InvalidSignatureException(SIGNATURE_MISMATCH_MESSAGE) from None
    scope = f"{timestamp[:8]}/{region}/{SERVICE}/aws4_request"
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}".encode()


def _signed_values(
    signed_names: list[str], received: dict[str, list[str]]
) -> dict[str, list[str]]:
    signed_values: dict[str, list[str]] = {}
    for name in signed_names:
        values = received.get(name)
        if values is None:
            # A client cannot have signed a header it did not send.
            raise InvalidSignatureException(SIGNATURE_MISMATCH_MESSAGE)
        signed_values[name] = values
    return signed_values


def _query_parameters(query_string: str) -> list[tuple[str, str]]:
    """Decode the query string, for botocore to re-encode in canonical form."""
    parameters = []
    for pair in query_string.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        parameters.append((unquote_plus(name), unquote_plus(value)))
    return parameters


def _derive_signing_key(secret_access_key: str, date: str, region: str) -> bytes:
    key = hmac.digest(f"AWS4{secret_access_key}".encode(), date.encode(), "sha256")
    for element in (region, SERVICE, "aws4_request"):
        key = hmac.digest(key, element.encode(), "sha256")
    return key


def _format_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")
