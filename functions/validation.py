"""Request validation for the AWS JSON 1.1 protocol, driven by the KMS service model.

``RequestValidator.validate`` does what the AWS front end does before an action
runs. It parses the body, where any failure is a SerializationException. It
checks every member against its shape in the botocore service model and reports
all violations in one ValidationException, in AWS's message format. Then it
applies ``SERVICE_RULES``, the input rules that AWS KMS enforces but the model
does not state. The per-type checkers are in ``functions.shape_checks`` and the
rules in ``functions.service_rules``.

NOTE: AWS KMS's SerializationException messages are not documented. The message
for a body that is a JSON list follows the one that AWS's request framework
returns for DynamoDB. Messages for other bodies that are not a JSON object are
our own.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Final

from botocore.model import ServiceModel

from domain.errors import (
    SerializationException,
    UnknownOperationException,
    ValidationException,
)
from functions.service_model import kms_service_model
from functions.service_rules import SERVICE_RULES, ServiceRule
from functions.shape_checks import (
    _HUGE_INTEGER,
    Checker,
    _HugeInteger,
    _ShapeCompiler,
    _validation_message,
)

__all__ = [
    "SERVICE_RULES",
    "Checker",
    "RequestValidator",
    "ServiceRule",
    "load_validator",
    "parse_body",
]

_MAX_INTEGER_DIGITS: Final = 40


class _InvalidJsonToken(ValueError):
    pass


def _parse_integer(text: str) -> int | _HugeInteger:
    if len(text) > _MAX_INTEGER_DIGITS:
        return _HUGE_INTEGER
    return int(text)


def _reject_constant(name: str) -> float:
    # NaN and Infinity are not JSON, though Python's json module accepts them.
    raise _InvalidJsonToken(name)


_DECODER: Final = json.JSONDecoder(
    parse_int=_parse_integer, parse_constant=_reject_constant
)


def parse_body(body: bytes) -> dict[str, Any]:
    """Parse a JSON 1.1 request body into a dict, reading an empty body as ``{}``."""
    if not body:
        return {}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SerializationException("Request body is not valid UTF-8") from None
    try:
        parsed = _DECODER.decode(text)
    except RecursionError:
        raise SerializationException("Request body is nested too deeply") from None
    except ValueError:
        raise SerializationException("Request body is not valid JSON") from None
    if isinstance(parsed, list):
        raise SerializationException("Start of list found where not expected")
    if not isinstance(parsed, dict):
        raise SerializationException("Request body must be a JSON object")
    if "\\" in text and _has_lone_surrogate(text, parsed):
        raise SerializationException("Request body has an unpaired UTF-16 surrogate")
    return parsed


def _has_lone_surrogate(text: str, parsed: dict[str, Any]) -> bool:
    # A \uD800-style escape without its pair parses, but no later step can
    # encode it as UTF-8, so it is rejected here rather than failing there.
    if "\\ud" not in text and "\\uD" not in text:
        return False
    try:
        json.dumps(parsed, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class RequestValidator:
    """Validate JSON 1.1 request bodies against a service model's input shapes."""

    def __init__(self, service_model: ServiceModel) -> None:
        self._model = service_model
        self._compiler = _ShapeCompiler()
        self._operation_names = frozenset(service_model.operation_names)
        self._checkers: dict[str, Checker] = {}
        self._rules: dict[str, tuple[ServiceRule, ...]] = {
            name: tuple(rule for rule in SERVICE_RULES if name in rule.operations)
            for name in self._operation_names
        }

    def compile_all(self) -> None:
        """Compile every operation's checker now rather than on its first request."""
        for name in self._operation_names:
            self._checker(name)

    def validate(self, operation_name: str, body: bytes) -> dict[str, Any]:
        """Parse the raw JSON body and validate it against the operation's input shape.

        Returns the modeled members only, with blobs (nested ones too) decoded to
        bytes and everything else as parsed. Raises SerializationException for a
        body or value that cannot be read as the shape's type, ValidationException
        for constraint violations (all of them, in one message) and for the
        service rules, and UnknownOperationException for an operation the model
        does not have.
        """
        checker = self._checker(operation_name)
        parsed = parse_body(body)
        errors: list[str] = []
        params: dict[str, Any] = checker(parsed, "", errors)
        if errors:
            raise ValidationException(_validation_message(errors))
        for rule in self._rules[operation_name]:
            message = rule.check(params)
            if message is not None:
                raise ValidationException(message)
        return params

    def _checker(self, operation_name: str) -> Checker:
        checker = self._checkers.get(operation_name)
        if checker is not None:
            return checker
        if operation_name not in self._operation_names:
            raise UnknownOperationException()
        input_shape = self._model.operation_model(operation_name).input_shape
        if input_shape is None:
            checker = _empty_input_checker
        else:
            checker = self._compiler.compile(input_shape)
        self._checkers[operation_name] = checker
        return checker


def _empty_input_checker(value: Any, path: str, errors: list[str]) -> Any:
    return {}


@functools.cache
def load_validator() -> RequestValidator:
    """Return the process-wide validator for the KMS model that botocore ships."""
    model = kms_service_model()
    return RequestValidator(model)
