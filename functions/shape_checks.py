"""Checkers compiled from the shapes of a botocore service model, one per shape.

A checker converts a JSON value to its shape's type, raising
SerializationException when the value has the wrong JSON type, and collects
every constraint violation in AWS's ValidationException message format.

NOTE: AWS KMS's SerializationException messages are not documented. The
type-mismatch and base64 messages here follow those that AWS's request
framework returns for DynamoDB, the closest JSON 1.1 service with recorded
messages, without its Java class names.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from botocore.model import Shape, StringShape, StructureShape

from domain.errors import SerializationException

Checker = Callable[[Any, str, list[str]], Any]
"""Check one JSON value against a shape and return it converted.

It takes the value (never None), its member path for messages, and the list that
collects constraint violations. It raises SerializationException on a type
mismatch, which AWS reports before any constraint.
"""

_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_SCALAR_TYPES: Final = frozenset({"string", "integer", "boolean", "blob", "timestamp"})
_NOT_NULL: Final = "Member must not be null"
_BASE64_ALPHABET: Final = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)
_BASE64_VALUES: Final = {char: index for index, char in enumerate(_BASE64_ALPHABET)}
# Java regex features that Python's re rejects or reads differently.
_JAVA_ONLY_REGEX: Final = ("&&", "\\p{", "\\P{", "\\Q", "\\z")


class _HugeInteger:
    """A JSON integer too long to convert, kept out of int() and its digit limit."""


_HUGE_INTEGER: Final = _HugeInteger()


def _mismatch(value: Any, target: str) -> SerializationException:
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if isinstance(value, dict):
        return SerializationException(
            "Start of structure or map found where not expected"
        )
    if value is True or value is False:
        kind = "TRUE_VALUE" if value else "FALSE_VALUE"
    elif isinstance(value, int | _HugeInteger):
        kind = "NUMBER_VALUE"
    elif isinstance(value, float):
        kind = "DECIMAL_VALUE"
    else:
        kind = "STRING_VALUE"
    return SerializationException(f"{kind} cannot be converted to {target}")


def _violation(value_text: str | None, path: str, constraint: str) -> str:
    """Render one violation, naming the value only when ``value_text`` is given."""
    subject = "Value" if value_text is None else f"Value {value_text}"
    return f"{subject} at '{path}' failed to satisfy constraint: {constraint}"


def _validation_message(violations: list[str]) -> str:
    count = len(violations)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(violations)


def _path_name(member_name: str) -> str:
    return member_name[:1].lower() + member_name[1:]


def _is_hidden(shape: Shape) -> bool:
    """Return whether messages must not repeat values of this shape."""
    return shape.type_name == "blob" or bool(shape.metadata.get("sensitive"))


def _java_text(value: Any) -> str:
    # AWS echoes collections with Java's toString, so nulls and booleans read so.
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    for construct in _JAVA_ONLY_REGEX:
        if construct in pattern:
            raise ValueError(f"model pattern {pattern!r} uses Java-only {construct!r}")
    # Java's \w, \d and \s match only ASCII unless UNICODE_CHARACTER_CLASS is set.
    return re.compile(pattern, re.ASCII)


def _constraint_texts(shape: Shape) -> list[str]:
    """List a shape's constraints as AWS lists them inside ``[...]`` for collections."""
    metadata = shape.metadata
    texts: list[str] = []
    if shape.type_name == "integer":
        if "max" in metadata:
            texts.append(
                f"Member must have value less than or equal to {metadata['max']}"
            )
        if "min" in metadata:
            texts.append(
                f"Member must have value greater than or equal to {metadata['min']}"
            )
        return texts
    if "max" in metadata:
        texts.append(f"Member must have length less than or equal to {metadata['max']}")
    if "min" in metadata:
        texts.append(
            f"Member must have length greater than or equal to {metadata['min']}"
        )
    if "pattern" in metadata:
        texts.append(
            f"Member must satisfy regular expression pattern: {metadata['pattern']}"
        )
    if isinstance(shape, StringShape) and shape.enum:
        texts.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    return texts


class _ShapeCompiler:
    """Build one checker per shape of the model, sharing checkers between operations."""

    def __init__(self) -> None:
        self._checkers: dict[str, Checker] = {}
        self._in_progress: set[str] = set()

    def compile(self, shape: Shape) -> Checker:
        checker = self._checkers.get(shape.name)
        if checker is not None:
            return checker
        if shape.name in self._in_progress:
            raise ValueError(f"recursive shape {shape.name} is not supported")
        self._in_progress.add(shape.name)
        try:
            checker = self._build(shape)
        finally:
            self._in_progress.discard(shape.name)
        self._checkers[shape.name] = checker
        return checker

    def _build(self, shape: Shape) -> Checker:
        kind = shape.type_name
        if kind == "string":
            return _string_checker(shape)
        if kind == "blob":
            return _blob_checker(shape)
        if kind == "integer":
            return _integer_checker(shape)
        if kind == "boolean":
            return _boolean_checker
        if kind == "timestamp":
            return _timestamp_checker
        if kind == "list":
            return self._list_checker(shape)
        if kind == "map":
            return self._map_checker(shape)
        if kind == "structure" and isinstance(shape, StructureShape):
            return self._structure_checker(shape)
        raise ValueError(f"shape {shape.name} has unsupported type {kind}")

    def _structure_checker(self, shape: StructureShape) -> Checker:
        required = set(shape.required_members)
        members = tuple(
            (
                name,
                _path_name(name),
                self.compile(member),
                name in required,
                _is_hidden(member),
            )
            for name, member in shape.members.items()
        )

        def check_structure(value: Any, path: str, errors: list[str]) -> Any:
            if type(value) is not dict:
                raise _collection_mismatch(value)
            prefix = f"{path}." if path else ""
            result: dict[str, Any] = {}
            # Walk the model's members, not the request's, so unknown members
            # are dropped and violations come out in the model's order.
            for name, path_name, checker, is_required, hidden in members:
                item = value.get(name)
                if item is None:
                    if is_required:
                        value_text = None if hidden else "null"
                        errors.append(
                            _violation(value_text, prefix + path_name, _NOT_NULL)
                        )
                    continue
                result[name] = checker(item, prefix + path_name, errors)
            return result

        return check_structure

    def _list_checker(self, shape: Shape) -> Checker:
        member_shape: Shape = shape.member
        check_member = self.compile(member_shape)
        count_texts = _count_texts(shape)
        minimum = shape.metadata.get("min")
        maximum = shape.metadata.get("max")
        scalar = member_shape.type_name in _SCALAR_TYPES
        hidden = not scalar or _is_hidden(member_shape)
        member_constraints = _constraint_texts(member_shape)

        def check_list(value: Any, path: str, errors: list[str]) -> Any:
            if type(value) is not list:
                raise _collection_mismatch(value)
            failures = _count_failures(len(value), minimum, maximum, count_texts)
            if failures:
                _report(errors, None if hidden else _quote_list(value), path, failures)
            result: list[Any] = []
            if not scalar:
                for index, item in enumerate(value, start=1):
                    item_path = f"{path}.{index}.member"
                    if item is None:
                        errors.append(_violation("null", item_path, _NOT_NULL))
                        continue
                    result.append(check_member(item, item_path, errors))
                return result
            # AWS reports bad elements of a scalar list once, at the list,
            # naming every constraint of the element shape.
            member_errors: list[str] = []
            has_null = False
            for item in value:
                if item is None:
                    has_null = True
                    continue
                result.append(check_member(item, path, member_errors))
            if member_errors or has_null:
                texts = (
                    [*member_constraints, _NOT_NULL] if has_null else member_constraints
                )
                constraint = f"Member must satisfy constraint: [{', '.join(texts)}]"
                value_text = None if hidden else _quote_list(value)
                errors.append(_violation(value_text, path, constraint))
            return result

        return check_list

    def _map_checker(self, shape: Shape) -> Checker:
        key_shape: Shape = shape.key
        value_shape: Shape = shape.value
        check_key = self.compile(key_shape)
        check_value = self.compile(value_shape)
        count_texts = _count_texts(shape)
        minimum = shape.metadata.get("min")
        maximum = shape.metadata.get("max")
        scalar_values = value_shape.type_name in _SCALAR_TYPES
        hidden = not scalar_values or _is_hidden(key_shape) or _is_hidden(value_shape)
        key_constraints = ", ".join(_constraint_texts(key_shape))
        value_constraints = _constraint_texts(value_shape)

        def check_map(value: Any, path: str, errors: list[str]) -> Any:
            if type(value) is not dict:
                raise _collection_mismatch(value)
            failures = _count_failures(len(value), minimum, maximum, count_texts)
            result: dict[str, Any] = {}
            key_errors: list[str] = []
            value_errors: list[str] = []
            has_null = False
            for key, item in value.items():
                check_key(key, path, key_errors)
                if item is None:
                    has_null = True
                elif scalar_values:
                    result[key] = check_value(item, path, value_errors)
                else:
                    result[key] = check_value(item, f"{path}.{key}", errors)
            if key_errors:
                failures = [
                    *failures,
                    f"Map keys must satisfy constraint: [{key_constraints}]",
                ]
            if value_errors or has_null:
                texts = (
                    [*value_constraints, _NOT_NULL] if has_null else value_constraints
                )
                constraint = f"Map value must satisfy constraint: [{', '.join(texts)}]"
                failures = [*failures, constraint]
            if failures:
                _report(errors, None if hidden else _quote_map(value), path, failures)
            return result

        return check_map


def _collection_mismatch(value: Any) -> SerializationException:
    if isinstance(value, list | dict):
        return _mismatch(value, "")
    # A scalar where a list, map or structure belongs.
    return SerializationException("Unexpected field type")


def _quote_list(value: list[Any]) -> str:
    return "'[" + ", ".join(_java_text(item) for item in value) + "]'"


def _quote_map(value: dict[str, Any]) -> str:
    pairs = (f"{key}={_java_text(item)}" for key, item in value.items())
    return "'{" + ", ".join(pairs) + "}'"


def _count_texts(shape: Shape) -> tuple[str, str]:
    metadata = shape.metadata
    return (
        f"Member must have length greater than or equal to {metadata.get('min')}",
        f"Member must have length less than or equal to {metadata.get('max')}",
    )


def _count_failures(
    count: int, minimum: int | None, maximum: int | None, texts: tuple[str, str]
) -> Sequence[str]:
    """Return the length constraint, if any, that a length or element count fails."""
    if minimum is not None and count < minimum:
        return (texts[0],)
    if maximum is not None and count > maximum:
        return (texts[1],)
    return ()


def _report(
    errors: list[str], value_text: str | None, path: str, constraints: Iterable[str]
) -> None:
    errors.extend(
        _violation(value_text, path, constraint) for constraint in constraints
    )


def _string_checker(shape: Shape) -> Checker:
    metadata = shape.metadata
    minimum: int | None = metadata.get("min")
    maximum: int | None = metadata.get("max")
    pattern_source: str | None = metadata.get("pattern")
    pattern = None if pattern_source is None else _compile_pattern(pattern_source)
    pattern_text = f"Member must satisfy regular expression pattern: {pattern_source}"
    enum_values = shape.enum if isinstance(shape, StringShape) else []
    allowed = frozenset(enum_values) if enum_values else None
    enum_text = f"Member must satisfy enum value set: [{', '.join(enum_values)}]"
    count_texts = _count_texts(shape)
    hidden = _is_hidden(shape)

    def check_string(value: Any, path: str, errors: list[str]) -> Any:
        if type(value) is not str:
            raise _mismatch(value, "String")
        failures = _count_failures(len(value), minimum, maximum, count_texts)
        if pattern is not None and pattern.fullmatch(value) is None:
            failures = [pattern_text, *failures]
        if allowed is not None and value not in allowed:
            failures = [*failures, enum_text]
        if failures:
            _report(errors, None if hidden else f"'{value}'", path, failures)
        return value

    return check_string


def _blob_checker(shape: Shape) -> Checker:
    minimum: int | None = shape.metadata.get("min")
    maximum: int | None = shape.metadata.get("max")
    count_texts = _count_texts(shape)

    def check_blob(value: Any, path: str, errors: list[str]) -> Any:
        if type(value) is not str:
            if isinstance(value, list | dict):
                raise _mismatch(value, "Blob")
            raise SerializationException(
                "only base-64-encoded strings are convertible to bytes"
            )
        data = _decode_base64(value)
        # Blob lengths count decoded bytes, and blob values are never repeated.
        failures = _count_failures(len(data), minimum, maximum, count_texts)
        if failures:
            _report(errors, None, path, failures)
        return data

    return check_blob


def _decode_base64(text: str) -> bytes:
    """Decode padded standard base64, rejecting what AWS's framework rejects."""
    if len(text) % 4:
        raise SerializationException(
            "Base64 encoded length is expected a multiple of 4 bytes"
            f" but found: {len(text)}"
        )
    try:
        # Decoding bytes is faster than decoding the str.
        data = binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise SerializationException("Invalid Base64 character or padding") from None
    # AWS's framework also rejects set bits in the unused low bits before the
    # padding, as seen from DynamoDB ("QR==" for b"A"), so each value has one
    # encoding.
    if text.endswith("=="):
        unused_bits = _BASE64_VALUES[text[-3]] & 0x0F
    elif text.endswith("="):
        unused_bits = _BASE64_VALUES[text[-2]] & 0x03
    else:
        unused_bits = 0
    if unused_bits:
        raise SerializationException("Invalid last non-pad Base64 character detected")
    return data


def _integer_checker(shape: Shape) -> Checker:
    minimum: int | None = shape.metadata.get("min")
    maximum: int | None = shape.metadata.get("max")

    def check_integer(value: Any, path: str, errors: list[str]) -> Any:
        if type(value) is not int:
            raise _mismatch(value, "Integer")
        if value < _INT32_MIN or value > _INT32_MAX:
            raise SerializationException("NUMBER_VALUE cannot be converted to Integer")
        if minimum is not None and value < minimum:
            constraint = f"Member must have value greater than or equal to {minimum}"
            errors.append(_violation(f"'{value}'", path, constraint))
        if maximum is not None and value > maximum:
            constraint = f"Member must have value less than or equal to {maximum}"
            errors.append(_violation(f"'{value}'", path, constraint))
        return value

    return check_integer


def _boolean_checker(value: Any, path: str, errors: list[str]) -> Any:
    if type(value) is not bool:
        raise _mismatch(value, "Boolean")
    return value


def _timestamp_checker(value: Any, path: str, errors: list[str]) -> Any:
    """Accept epoch seconds, the JSON 1.1 timestamp form, and return them as parsed."""
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    raise _mismatch(value, "Timestamp")
