"""Key policies and IAM identity policies: parse, validate and evaluate.

A policy is parsed once into compiled statements, so evaluating a request does
no JSON work and no pattern compilation. Evaluation follows the IAM "Policy
evaluation logic" page: an explicit Deny wins over any Allow, and a request
that no Allow statement matches is implicitly denied.

For a key policy, the AWS KMS developer guide ("Default key policy") states that an
Allow that names only an account (``arn:aws:iam::ID:root`` or ``ID``) gives no
IAM user or role access by itself. It lets the account delegate access through
IAM policies, so such a match is reported apart as ``ALLOW_ACCOUNT``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.errors import LimitExceededException, MalformedPolicyDocumentException
from domain.policy_conditions import (
    Condition,
    ContextValue,
    ValueTest,
    compile_wildcard,
)
from domain.policy_principals import (
    NO_PRINCIPAL,
    PrincipalMatch,
    Principals,
    is_root_arn,
)

KEY_POLICY_MAX_BYTES = 32_768
"""The key policy size limit in the AWS KMS guide's "Key policy format"."""

VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
_DOCUMENT_ELEMENTS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)

# NOTE: AWS's exact text for the errors below is not documented. The
# principal errors (in policy_principals) and the OverlyPermissiveCondition
# errors (in policy_conditions) are AWS's own.
NOT_JSON = "The policy is not a valid JSON document."
NOT_AN_OBJECT = "The policy must be a JSON object."
TOO_LARGE = f"The key policy exceeds the maximum size of {KEY_POLICY_MAX_BYTES} bytes."
INVALID_VERSION = "Policy contains an invalid Version: use 2012-10-17 or 2008-10-17."
NO_STATEMENT = "Policy contains no statement."
INVALID_STATEMENT = "Each policy statement must be a JSON object."
INVALID_EFFECT = (
    "Policy contains a statement with an invalid Effect: use Allow or Deny."
)
PRINCIPAL_IN_IDENTITY_POLICY = "Has prohibited field Principal"
NO_ACTION = "Policy statement must contain actions."
NO_RESOURCE = "Policy statement must contain resources."
INVALID_ACTION = (
    "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
)
INVALID_SID = (
    "Statement IDs (SID) must be alpha-numeric. "
    "Check that your input satisfies the regular expression [0-9A-Za-z]*"
)


def _unknown_element(name: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(
        f"Policy contains an unknown element: {name}."
    )


def _both_elements(first: str, second: str) -> MalformedPolicyDocumentException:
    return MalformedPolicyDocumentException(
        f"Policy contains a statement with both {first} and {second}: use one of them."
    )


class PolicyKind(StrEnum):
    KEY = "key"
    """A KMS key policy: every statement needs Principal or NotPrincipal."""
    IDENTITY = "identity"
    """An IAM identity policy: Principal and NotPrincipal are not allowed."""


class Match(StrEnum):
    """The outcome of a policy's statements for one request."""

    NONE = "none"
    """No statement applies: an implicit deny."""
    ALLOW = "allow"
    """An Allow applies and names the caller directly.

    Every Allow of an identity policy that applies counts as direct.
    """
    ALLOW_ACCOUNT = "allow_account"
    """Key policies only: the only Allows that apply name the caller's account,
    and the caller is not its root, so the caller's IAM policy must allow too."""
    DENY = "deny"
    """An explicit Deny applies; it wins over every Allow."""


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """A request, reduced to what a policy evaluates.

    ``context`` maps the condition keys present in the request, their names
    lower-cased, to a string (a single-valued key) or a tuple (a multivalued
    key; empty when present without values).
    """

    principal_arn: str
    principal_account: str
    action: str
    resource: str
    context: Mapping[str, ContextValue]


def _string_list(raw: Any, element: str) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    if not items or not all(isinstance(item, str) for item in items):
        raise MalformedPolicyDocumentException(
            f"Policy contains a statement with an invalid {element}: "
            "it must be a string or a list of strings."
        )
    return items


def _action_test(raw: Any, element: str) -> ValueTest:
    patterns = _string_list(raw, element)
    for pattern in patterns:
        if pattern != "*" and ":" not in pattern:
            raise MalformedPolicyDocumentException(INVALID_ACTION)
    # Action names are case-insensitive ("IAM JSON policy elements: Action").
    return compile_wildcard(patterns, ignore_case=True)


def _resource_test(raw: Any, element: str) -> ValueTest:
    patterns = _string_list(raw, element)
    if "*" in patterns:
        return lambda resource: True
    return compile_wildcard(patterns)


def _pick_one(
    statement: dict[str, Any], name: str, negated_name: str
) -> tuple[Any, bool]:
    """Return a pair's element and whether it is the Not form."""
    if name in statement and negated_name in statement:
        raise _both_elements(name, negated_name)
    if negated_name in statement:
        return statement[negated_name], True
    return statement.get(name), False


class _Statement:
    """One compiled statement."""

    __slots__ = (
        "condition",
        "deny",
        "effective",
        "negated_action",
        "negated_principal",
        "negated_resource",
        "principals",
        "test_action",
        "test_resource",
    )

    def __init__(
        self,
        statement: Any,
        kind: PolicyKind,
        principal_exists: Callable[[str], bool] | None,
    ) -> None:
        if not isinstance(statement, dict):
            raise MalformedPolicyDocumentException(INVALID_STATEMENT)
        for name in statement:
            if name not in _STATEMENT_ELEMENTS:
                raise _unknown_element(name)

        sid = statement.get("Sid", "")
        if not isinstance(sid, str):
            raise MalformedPolicyDocumentException(INVALID_SID)
        # Key policy Sids may contain spaces; IAM policy Sids are alphanumeric.
        if (
            kind is PolicyKind.IDENTITY
            and sid
            and not (sid.isascii() and sid.isalnum())
        ):
            raise MalformedPolicyDocumentException(INVALID_SID)

        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise MalformedPolicyDocumentException(INVALID_EFFECT)
        self.deny = effect == "Deny"

        principal, self.negated_principal = _pick_one(
            statement, "Principal", "NotPrincipal"
        )
        if kind is PolicyKind.IDENTITY:
            if principal is not None:
                raise MalformedPolicyDocumentException(PRINCIPAL_IN_IDENTITY_POLICY)
            self.principals = None
        elif principal is None:
            raise MalformedPolicyDocumentException(NO_PRINCIPAL)
        else:
            self.principals = Principals.parse(principal, principal_exists)

        action, self.negated_action = _pick_one(statement, "Action", "NotAction")
        resource, self.negated_resource = _pick_one(
            statement, "Resource", "NotResource"
        )
        # A key policy statement without Action or Resource is accepted but has
        # no effect (CreateKey API reference, Policy parameter). IAM rejects it.
        self.effective = action is not None and resource is not None
        if kind is PolicyKind.IDENTITY and action is None:
            raise MalformedPolicyDocumentException(NO_ACTION)
        if kind is PolicyKind.IDENTITY and resource is None:
            raise MalformedPolicyDocumentException(NO_RESOURCE)
        action_name = "NotAction" if self.negated_action else "Action"
        resource_name = "NotResource" if self.negated_resource else "Resource"
        self.test_action = (
            _action_test(action, action_name) if action is not None else None
        )
        self.test_resource = (
            _resource_test(resource, resource_name) if resource is not None else None
        )

        raw_condition = statement.get("Condition")
        self.condition = (
            None
            if raw_condition is None
            else Condition(
                raw_condition, reject_overly_permissive=kind is PolicyKind.KEY
            )
        )

    def principal_match(self, arn: str, account: str, is_root: bool) -> PrincipalMatch:
        if self.principals is None:
            return PrincipalMatch.DIRECT
        if self.negated_principal:
            listed = self.principals.lists(arn, account, is_root)
            return PrincipalMatch.NONE if listed else PrincipalMatch.DIRECT
        return self.principals.match(arn, account, is_root)

    def applies_to(self, request: AccessRequest) -> bool:
        """Tell whether action, resource and condition match (not the principal)."""
        if self.test_action is None or self.test_resource is None:
            return False
        if self.test_action(request.action) == self.negated_action:
            return False
        if self.test_resource(request.resource) == self.negated_resource:
            return False
        return self.condition is None or self.condition.holds(request.context)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, though Python's parser accepts them.
    raise ValueError(f"{name} is not valid JSON")


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name, value in pairs:
        if name in document:
            # A repeated member would let two readers of the policy see two
            # different documents.
            raise ValueError(f"member {name} appears twice")
        document[name] = value
    return document


def _load_document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_unique_members
        )
        # A number too large for a float parses as infinity.
        json.dumps(document, allow_nan=False)
    except (ValueError, RecursionError):
        raise MalformedPolicyDocumentException(NOT_JSON) from None
    if not isinstance(document, dict):
        raise MalformedPolicyDocumentException(NOT_AN_OBJECT)
    return document


class Policy:
    """A parsed policy document, evaluated once per request."""

    __slots__ = ("_statements", "kind", "text")

    def __init__(
        self, text: str, kind: PolicyKind, statements: tuple[_Statement, ...]
    ) -> None:
        self.text = text
        self.kind = kind
        self._statements = statements

    @classmethod
    def parse(
        cls,
        text: str,
        kind: PolicyKind,
        principal_exists: Callable[[str], bool] | None = None,
    ) -> Policy:
        """Parse and validate a policy document.

        Raises MalformedPolicyDocumentException for what AWS rejects, and
        LimitExceededException for a key policy over 32 KiB, as the CreateKey
        API reference states. ``principal_exists`` is asked about each IAM user
        or role ARN a key policy names; a False result makes the principal
        invalid.
        """
        # NOTE: the limit is counted in UTF-8 bytes; AWS states 32,768 bytes
        # without naming the encoding.
        if kind is PolicyKind.KEY and len(text.encode("utf-8")) > KEY_POLICY_MAX_BYTES:
            raise LimitExceededException(TOO_LARGE)
        document = _load_document(text)
        for name in document:
            if name not in _DOCUMENT_ELEMENTS:
                raise _unknown_element(name)
        # IAM reads a policy without Version as version 2008-10-17.
        if "Version" in document and document["Version"] not in VERSIONS:
            raise MalformedPolicyDocumentException(INVALID_VERSION)
        if "Id" in document and not isinstance(document["Id"], str):
            raise MalformedPolicyDocumentException(
                "Policy contains an invalid Id: it must be a string."
            )

        raw_statements = document.get("Statement")
        if isinstance(raw_statements, dict):
            raw_statements = [raw_statements]
        if not isinstance(raw_statements, list) or not raw_statements:
            raise MalformedPolicyDocumentException(NO_STATEMENT)
        statements = tuple(
            _Statement(item, kind, principal_exists) for item in raw_statements
        )
        return cls(text, kind, statements)

    def evaluate(self, request: AccessRequest) -> Match:
        """Return the outcome of this policy's statements for the request."""
        arn = request.principal_arn
        account = request.principal_account
        is_root = is_root_arn(arn, account)
        strongest = PrincipalMatch.NONE
        for statement in self._statements:
            if not statement.deny and strongest is PrincipalMatch.DIRECT:
                continue
            principal = statement.principal_match(arn, account, is_root)
            if principal is PrincipalMatch.NONE or not statement.applies_to(request):
                continue
            if statement.deny:
                return Match.DENY
            if principal.value < strongest.value:
                strongest = principal
        if strongest is PrincipalMatch.DIRECT:
            return Match.ALLOW
        if strongest is PrincipalMatch.ACCOUNT:
            return Match.ALLOW_ACCOUNT
        return Match.NONE


_DEFAULT_KEY_POLICY = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::ACCOUNT_ID:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""


def default_key_policy(account_id: str) -> str:
    """Return the key policy AWS KMS gives a key created without one.

    The text and layout are those GetKeyPolicy returns for such a key, as the
    AWS KMS developer guide shows in "Creating keys" (``aws kms
    get-key-policy`` output).
    """
    return _DEFAULT_KEY_POLICY.replace("ACCOUNT_ID", account_id)
