"""The Condition element of the IAM policy language, compiled once per policy.

The rules come from the IAM User Guide pages "IAM JSON policy elements:
Condition operators" and "Conditions with multiple context keys or values".
Operator blocks and the keys inside one block are ANDed, and the values of one
key are ORed. A negated operator (StringNotEquals, ...) is true only when no
value matches (NOR). A key absent from the request makes a positive operator
false and a negated one true. ``...IfExists`` makes an absent key true, and
``Null`` tests presence alone. ``ForAnyValue`` is false and ``ForAllValues``
true on a missing or empty set.

TODO: policy variables such as ``${aws:username}`` are compared as literal
text, not replaced by the caller's values.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from domain.errors import MalformedPolicyDocumentException

ContextValue = str | tuple[str, ...]
Context = Mapping[str, ContextValue]
ValueTest = Callable[[str], bool]
"""True when one request value matches at least one of the policy's values."""

KeyTest = Callable[[ContextValue | None], bool]
"""True when a condition key's values in the request satisfy one operator."""

FOR_ANY_VALUE = "ForAnyValue:"
FOR_ALL_VALUES = "ForAllValues:"
IF_EXISTS = "IfExists"

# The value AWS KMS documents for ForAllValues with kms:EncryptionContext:<key>.
OVERLY_PERMISSIVE_ENCRYPTION_CONTEXT = (
    "OverlyPermissiveCondition:EncryptionContext: Using the ForAllValues set "
    "operator with a single-valued condition key matches requests without the "
    "specified encryption context or with an unspecified encryption context. "
    "To fix, remove ForAllValues."
)
# NOTE: AWS documents this error for aws:RequestTag/<key> only as a template;
# this is the template filled in for tags, by analogy with the one above.
OVERLY_PERMISSIVE_REQUEST_TAG = (
    "OverlyPermissiveCondition:RequestTag: Using the ForAllValues set operator "
    "with a single-valued condition key matches requests without the specified "
    "tag or with an unspecified tag. To fix, remove ForAllValues."
)


def compile_wildcard(patterns: list[str], *, ignore_case: bool = False) -> ValueTest:
    """Compile ``*`` and ``?`` patterns into one test that matches whole values."""
    wildcards = {"*": ".*", "?": "."}
    alternatives = []
    for pattern in patterns:
        pieces = [wildcards.get(char) or re.escape(char) for char in pattern]
        alternatives.append("".join(pieces))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    regex = re.compile("(?:" + "|".join(alternatives) + ")", flags)
    return lambda value: regex.fullmatch(value) is not None


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


_EPOCH = re.compile(r"\d+(?:\.\d+)?")
_YEAR_OR_MONTH = re.compile(r"(\d{4})(?:-(\d{2}))?")


def _timestamp(text: str) -> float | None:
    """Convert an ISO 8601 date (W3C profile) or epoch seconds to epoch seconds."""
    if _EPOCH.fullmatch(text):
        return float(text)
    short = _YEAR_OR_MONTH.fullmatch(text)
    try:
        if short:
            moment = datetime(int(short[1]), int(short[2] or 1), 1, tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# Each factory turns a key's policy values into a test of one request value.
# NOTE: a policy value that cannot be read as its operator's type (a number, a
# date, base64, a CIDR block) never matches. Whether AWS rejects such a policy
# instead is not documented.


def _string_equals(values: list[str]) -> ValueTest:
    return frozenset(values).__contains__


def _string_equals_ignore_case(values: list[str]) -> ValueTest:
    folded = frozenset(value.lower() for value in values)
    return lambda value: value.lower() in folded


def _string_like(values: list[str]) -> ValueTest:
    return compile_wildcard(values)


def _numeric(
    compare: Callable[[float, float], bool],
) -> Callable[[list[str]], ValueTest]:
    def factory(values: list[str]) -> ValueTest:
        limits = [number for number in map(_number, values) if number is not None]

        def test(value: str) -> bool:
            number = _number(value)
            return number is not None and any(
                compare(number, limit) for limit in limits
            )

        return test

    return factory


def _date(compare: Callable[[float, float], bool]) -> Callable[[list[str]], ValueTest]:
    def factory(values: list[str]) -> ValueTest:
        limits = [moment for moment in map(_timestamp, values) if moment is not None]

        def test(value: str) -> bool:
            moment = _timestamp(value)
            return moment is not None and any(
                compare(moment, limit) for limit in limits
            )

        return test

    return factory


def _bool(values: list[str]) -> ValueTest:
    return _string_equals_ignore_case(values)


def _binary_equals(values: list[str]) -> ValueTest:
    expected = frozenset(data for data in map(_binary, values) if data is not None)
    return lambda value: _binary(value) in expected


def _ip_address_in(values: list[str]) -> ValueTest:
    # A value without a prefix length is one address (/32 or /128), as IAM reads it.
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue

    def test(value: str) -> bool:
        address = _ip_address(value)
        return address is not None and any(address in network for network in networks)

    return test


def _arn_like(values: list[str]) -> ValueTest:
    # Each of the six colon-separated parts is matched on its own, so a
    # wildcard never spans a colon except inside the last part.
    patterns = []
    for value in values:
        parts = value.split(":", 5)
        if len(parts) == 6:
            patterns.append([compile_wildcard([part]) for part in parts])

    def test(value: str) -> bool:
        parts = value.split(":", 5)
        if len(parts) != 6:
            return False
        return any(
            all(match(part) for match, part in zip(pattern, parts, strict=True))
            for pattern in patterns
        )

    return test


# Operator name -> (factory, negated). A negated operator is the NOR of its
# positive counterpart over the policy values.
_OPERATORS: dict[str, tuple[Callable[[list[str]], ValueTest], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "NumericEquals": (_numeric(operator.eq), False),
    "NumericNotEquals": (_numeric(operator.eq), True),
    "NumericLessThan": (_numeric(operator.lt), False),
    "NumericLessThanEquals": (_numeric(operator.le), False),
    "NumericGreaterThan": (_numeric(operator.gt), False),
    "NumericGreaterThanEquals": (_numeric(operator.ge), False),
    "DateEquals": (_date(operator.eq), False),
    "DateNotEquals": (_date(operator.eq), True),
    "DateLessThan": (_date(operator.lt), False),
    "DateLessThanEquals": (_date(operator.le), False),
    "DateGreaterThan": (_date(operator.gt), False),
    "DateGreaterThanEquals": (_date(operator.ge), False),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary_equals, False),
    "IpAddress": (_ip_address_in, False),
    "NotIpAddress": (_ip_address_in, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


def _malformed(message: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(message)


# NOTE: AWS's messages for a malformed Condition element are not documented;
# these name the element and the value at fault.
def _invalid_operator(name: str) -> MalformedPolicyDocumentException:
    return _malformed(f"Policy contains an invalid condition operator: {name}.")


def _condition_values(raw: Any, operator_name: str) -> list[str]:
    """Return a key's policy values as strings: JSON strings, numbers and booleans."""
    items = raw if isinstance(raw, list) else [raw]
    values = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            values.append(str(item))
        else:
            raise _malformed(
                f"Policy contains an invalid value for the condition operator "
                f"{operator_name}: values must be strings, numbers or booleans."
            )
    return values


def _null_test(values: list[str]) -> KeyTest:
    wanted = {value.lower() == "true" for value in values}
    return lambda found: (found is None) in wanted


def _key_test(
    qualifier: str, value_test: ValueTest, negated: bool, if_exists: bool
) -> KeyTest:
    def one_value(value: str) -> bool:
        return value_test(value) != negated

    def test(found: ContextValue | None) -> bool:
        if found is None:
            if if_exists:
                return True
            if qualifier == FOR_ANY_VALUE:
                return False
            return qualifier == FOR_ALL_VALUES or negated
        values = (found,) if isinstance(found, str) else found
        if qualifier == FOR_ALL_VALUES:
            return all(map(one_value, values))
        if qualifier == FOR_ANY_VALUE or not negated:
            return any(map(one_value, values))
        # NOTE: AWS requires a set operator on multivalued keys. Without one,
        # a negated operator here holds when no request value matches.
        return not any(map(value_test, values))

    return test


def _check_overly_permissive(qualifier: str, key: str) -> None:
    if qualifier != FOR_ALL_VALUES:
        return
    if key.startswith("kms:encryptioncontext:"):
        raise _malformed(OVERLY_PERMISSIVE_ENCRYPTION_CONTEXT)
    if key.startswith("aws:requesttag/"):
        raise _malformed(OVERLY_PERMISSIVE_REQUEST_TAG)


def _compile_operator(
    full_name: str, block: Any, *, reject_overly_permissive: bool
) -> list[tuple[str, KeyTest]]:
    qualifier = ""
    name = full_name
    for prefix in (FOR_ANY_VALUE, FOR_ALL_VALUES):
        if name.startswith(prefix):
            qualifier, name = prefix, name[len(prefix) :]
    if_exists = name.endswith(IF_EXISTS) and name != IF_EXISTS
    base = name[: -len(IF_EXISTS)] if if_exists else name
    if base not in _OPERATORS and not (base == "Null" and not if_exists):
        raise _invalid_operator(full_name)
    if not isinstance(block, dict) or not block:
        raise _malformed(
            f"Policy contains an invalid condition block for {full_name}: "
            "it must map condition keys to values."
        )

    tests = []
    for raw_key, raw_values in block.items():
        # Condition key names are case-insensitive; the caller lower-cases the
        # request's keys the same way.
        key = raw_key.lower()
        if reject_overly_permissive:
            _check_overly_permissive(qualifier, key)
        values = _condition_values(raw_values, full_name)
        if base == "Null":
            tests.append((key, _null_test(values)))
            continue
        factory, negated = _OPERATORS[base]
        tests.append((key, _key_test(qualifier, factory(values), negated, if_exists)))
    return tests


class Condition:
    """A compiled Condition element: true when every operator block holds."""

    __slots__ = ("_tests",)

    def __init__(self, element: Any, *, reject_overly_permissive: bool) -> None:
        if not isinstance(element, dict):
            raise _malformed(
                "Policy contains an invalid Condition element: "
                "it must be a JSON object."
            )
        tests: list[tuple[str, KeyTest]] = []
        for operator_name, block in element.items():
            tests.extend(
                _compile_operator(
                    operator_name,
                    block,
                    reject_overly_permissive=reject_overly_permissive,
                )
            )
        self._tests = tuple(tests)

    def holds(self, context: Context) -> bool:
        get = context.get
        return all(test(get(key)) for key, test in self._tests)
