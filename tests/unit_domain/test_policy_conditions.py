"""Condition operators, set qualifiers, IfExists forms and the KMS condition keys.

Each case is one statement for the role below, with an Allow (expected ALLOW
when the condition holds, NONE when not) or, beside an unconditional Allow, a
Deny (expected DENY when the condition holds, ALLOW when not). Context keys
are lower-cased, as the caller builds them. Every case names its AWS page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from domain.policy import AccessRequest, Match, Policy, PolicyKind

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/RoleForExampleApp"
KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LIMITED_ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/LimitedAdminRole"
# The ARN operator example of the condition operators page.
SOURCE_ARN = (
    "arn:aws:someservice:us-east-2:999999999999:"
    "store/abc:111122223333:finance/document.txt"
)

IAM_GUIDE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
KMS_GUIDE = "https://docs.aws.amazon.com/kms/latest/developerguide/"
KMS_API = "https://docs.aws.amazon.com/kms/latest/APIReference/"
OPERATORS = (
    "IAM JSON policy elements: Condition operators, "
    f"{IAM_GUIDE}reference_policies_elements_condition_operators.html"
)
MULTIPLE = (
    "Conditions with multiple context keys or values, "
    f"{IAM_GUIDE}reference_policies_condition-logic-multiple-context-keys-or-values.html"
)
SET_OPERATORS = (
    "Single-valued vs. multivalued context keys, "
    f"{IAM_GUIDE}reference_policies_condition-single-vs-multi-valued-context-keys.html"
)
MULTIVALUED_EXAMPLES = (
    "Multivalued context key examples, "
    f"{IAM_GUIDE}reference_policies_condition_examples-multi-valued-context-keys.html"
)
GLOBAL_KEYS = (
    "AWS global condition context keys, "
    f"{IAM_GUIDE}reference_policies_condition-keys.html"
)
PRINCIPAL = (
    "AWS JSON policy elements: Principal, "
    f"{IAM_GUIDE}reference_policies_elements_principal.html"
)
KMS_KEYS = f"AWS KMS condition keys, {KMS_GUIDE}conditions-kms.html"
ENABLE_KEY_ROTATION = (
    f"EnableKeyRotation, RotationPeriodInDays, {KMS_API}API_EnableKeyRotation.html"
)
SCHEDULE_KEY_DELETION = (
    f"ScheduleKeyDeletion, PendingWindowInDays, {KMS_API}API_ScheduleKeyDeletion.html; "
    "aws-samples/service-control-policy-examples Enforce-30-days-for-KMS-deletion.json"
)


@dataclass(frozen=True)
class Case:
    name: str
    condition: dict[str, Any]
    context: dict[str, Any]
    expected: Match
    source: str
    deny: bool = False
    principal: str = ROLE
    account: str = ACCOUNT

    def policy(self) -> Policy:
        conditional = {
            "Effect": "Deny" if self.deny else "Allow",
            "Principal": {"AWS": ROLE},
            "Action": "kms:*",
            "Resource": "*",
            "Condition": self.condition,
        }
        statements = [conditional]
        if self.deny:
            statements.insert(
                0,
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "kms:*",
                    "Resource": "*",
                },
            )
        text = json.dumps({"Version": "2012-10-17", "Statement": statements})
        return Policy.parse(text, PolicyKind.KEY)

    def request(self) -> AccessRequest:
        return AccessRequest(ROLE, ACCOUNT, "kms:Encrypt", KEY_ARN, self.context)


ALLOW, NONE, DENY = Match.ALLOW, Match.NONE, Match.DENY
EC_APP = "kms:encryptioncontext:appname"

OPERATOR_CASES = [
    # String operators.
    Case(
        "StringEquals match",
        {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "ExampleApp"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringEquals is case-sensitive",
        {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "exampleapp"},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringEquals absent key",
        {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringNotEquals other value",
        {"StringNotEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "Other"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringNotEquals same value",
        {"StringNotEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "ExampleApp"},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringNotEquals absent key",
        {"StringNotEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringEqualsIgnoreCase",
        {"StringEqualsIgnoreCase": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "EXAMPLEAPP"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringNotEqualsIgnoreCase",
        {"StringNotEqualsIgnoreCase": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "exampleapp"},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringNotEqualsIgnoreCase other",
        {"StringNotEqualsIgnoreCase": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "Helper"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringLike star",
        {"StringLike": {"kms:KeySpec": "RSA_*"}},
        {"kms:keyspec": "RSA_4096"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "StringLike no match",
        {"StringLike": {"kms:KeySpec": "RSA_*"}},
        {"kms:keyspec": "ECC_NIST_P256"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "StringLike question mark",
        {"StringLike": {"kms:KeySpec": "RSA_?096"}},
        {"kms:keyspec": "RSA_4096"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringLike is case-sensitive",
        {"StringLike": {"kms:KeySpec": "rsa_*"}},
        {"kms:keyspec": "RSA_4096"},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringNotLike match",
        {"StringNotLike": {"kms:KeySpec": "RSA_*"}},
        {"kms:keyspec": "RSA_2048"},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringNotLike no match",
        {"StringNotLike": {"kms:KeySpec": "RSA_*"}},
        {"kms:keyspec": "HMAC_256"},
        ALLOW,
        OPERATORS,
    ),
    # Numeric operators.
    Case(
        "NumericEquals",
        {"NumericEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "180"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "NumericEquals other",
        {"NumericEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "365"},
        NONE,
        OPERATORS,
    ),
    Case(
        "NumericNotEquals",
        {"NumericNotEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "365"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "NumericNotEquals same",
        {"NumericNotEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "180"},
        NONE,
        OPERATORS,
    ),
    Case(
        "NumericLessThan",
        {"NumericLessThan": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "179"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "NumericLessThan equal",
        {"NumericLessThan": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "180"},
        NONE,
        OPERATORS,
    ),
    Case(
        "NumericLessThanEquals",
        {"NumericLessThanEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "180"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "NumericGreaterThan",
        {"NumericGreaterThan": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "180"},
        NONE,
        OPERATORS,
    ),
    Case(
        "NumericGreaterThanEquals",
        {"NumericGreaterThanEquals": {"kms:RotationPeriodInDays": 180}},
        {"kms:rotationperiodindays": "180"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "Numeric decimal limit",
        {"NumericLessThanEquals": {"kms:ValidTo": "1546257599.0"}},
        {"kms:validto": "1546257599"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "Numeric non-number value",
        {"NumericLessThan": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "ninety"},
        NONE,
        OPERATORS,
    ),
    # Date operators, ISO 8601 and epoch seconds.
    Case(
        "DateEquals",
        {"DateEquals": {"aws:CurrentTime": "2026-12-04T10:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateEquals epoch",
        {"DateEquals": {"aws:CurrentTime": "1796378400"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateNotEquals",
        {"DateNotEquals": {"aws:CurrentTime": "2026-12-04T10:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:01Z"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateLessThan",
        {"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateLessThan later",
        {"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        NONE,
        OPERATORS,
    ),
    Case(
        "DateLessThanEquals",
        {"DateLessThanEquals": {"aws:CurrentTime": "2026-12-04T10:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateGreaterThan",
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:01Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateGreaterThanEquals date only",
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2026-12-05"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        NONE,
        OPERATORS,
    ),
    # Bool, BinaryEquals, IP address and ARN operators.
    Case(
        "Bool JSON true",
        {"Bool": {"kms:GrantIsForAWSResource": True}},
        {"kms:grantisforawsresource": "true"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "Bool string true",
        {"Bool": {"kms:GrantIsForAWSResource": "true"}},
        {"kms:grantisforawsresource": "false"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "BinaryEquals",
        {"BinaryEquals": {"aws:binarykey": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"aws:binarykey": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "BinaryEquals other bytes",
        {"BinaryEquals": {"aws:binarykey": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"aws:binarykey": "T3RoZXI="},
        NONE,
        OPERATORS,
    ),
    Case(
        "IpAddress in range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:sourceip": "203.0.113.7"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "IpAddress outside range",
        {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:sourceip": "198.51.100.7"},
        NONE,
        OPERATORS,
    ),
    Case(
        "IpAddress IPv6 range",
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        {"aws:sourceip": "2001:db8:1234:5678::1"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "IpAddress without prefix is /32",
        {"IpAddress": {"aws:SourceIp": "203.0.113.7"}},
        {"aws:sourceip": "203.0.113.8"},
        NONE,
        OPERATORS,
    ),
    Case(
        "NotIpAddress outside",
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:sourceip": "198.51.100.7"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "NotIpAddress inside",
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:sourceip": "203.0.113.7"},
        NONE,
        OPERATORS,
    ),
    Case(
        "ArnLike per component",
        {"ArnLike": {"aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"}},
        {"aws:sourcearn": SOURCE_ARN},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringLike spans colons",
        {
            "StringLike": {
                "aws:SourceArn": "arn:aws:someservice:*:111122223333:finance/*"
            }
        },
        {"aws:sourcearn": SOURCE_ARN},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "ArnLike match",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}},
        {"aws:principalarn": ROLE},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "ArnEquals same as ArnLike",
        {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/RoleForExampleApp"}},
        {"aws:principalarn": ROLE},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "ArnNotEquals",
        {"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
        {"aws:principalarn": ROLE},
        NONE,
        OPERATORS,
    ),
    Case(
        "ArnNotLike",
        {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}},
        {"aws:principalarn": ROLE},
        ALLOW,
        OPERATORS,
    ),
    # Null checks presence only.
    Case(
        "Null true, key absent",
        {"Null": {"kms:BypassPolicyLockoutSafetyCheck": True}},
        {},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "Null true, key present",
        {"Null": {"kms:BypassPolicyLockoutSafetyCheck": True}},
        {"kms:bypasspolicylockoutsafetycheck": "false"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "Null false, key present",
        {"Null": {"kms:EncryptionContextKeys": False}},
        {"kms:encryptioncontextkeys": ("AppName",)},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "Null false, key absent",
        {"Null": {"kms:EncryptionContextKeys": False}},
        {},
        NONE,
        KMS_KEYS,
    ),
    # IfExists: an absent key satisfies the operator.
    Case(
        "StringEqualsIfExists absent",
        {"StringEqualsIfExists": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringEqualsIfExists mismatch",
        {"StringEqualsIfExists": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "Other"},
        NONE,
        OPERATORS,
    ),
    Case(
        "StringLikeIfExists match",
        {"StringLikeIfExists": {"kms:KeySpec": ["RSA_*", "ECC_*"]}},
        {"kms:keyspec": "ECC_NIST_P384"},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "StringNotEqualsIfExists deny, absent",
        {"StringNotEqualsIfExists": {"aws:ResourceTag/Project": "Alpha"}},
        {},
        DENY,
        OPERATORS,
        deny=True,
    ),
    Case(
        "StringNotEqualsIfExists deny, same",
        {"StringNotEqualsIfExists": {"aws:ResourceTag/Project": "Alpha"}},
        {"aws:resourcetag/project": "Alpha"},
        ALLOW,
        OPERATORS,
        deny=True,
    ),
    Case(
        "NumericLessThanIfExists absent",
        {"NumericLessThanIfExists": {"kms:RotationPeriodInDays": "180"}},
        {},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "DateLessThanIfExists late",
        {"DateLessThanIfExists": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        NONE,
        OPERATORS,
    ),
    Case(
        "BoolIfExists absent",
        {"BoolIfExists": {"kms:ReEncryptOnSameKey": "true"}},
        {},
        ALLOW,
        OPERATORS,
    ),
    Case(
        "IpAddressIfExists absent",
        {"IpAddressIfExists": {"aws:SourceIp": "203.0.113.0/24"}},
        {},
        ALLOW,
        GLOBAL_KEYS,
    ),
    Case(
        "ArnLikeIfExists mismatch",
        {"ArnLikeIfExists": {"aws:PrincipalArn": "arn:aws:iam::*:user/*"}},
        {"aws:principalarn": ROLE},
        NONE,
        OPERATORS,
    ),
    Case(
        "ForAnyValue:StringEqualsIfExists absent",
        {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": "Project"}},
        {},
        ALLOW,
        OPERATORS,
    ),
    # Set qualifiers on multivalued keys, empty and missing sets included.
    Case(
        "ForAllValues empty set",
        {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "AppName"}},
        {"kms:encryptioncontextkeys": ()},
        ALLOW,
        SET_OPERATORS,
    ),
    Case(
        "ForAllValues missing key",
        {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "AppName"}},
        {},
        ALLOW,
        SET_OPERATORS,
    ),
    Case(
        "ForAnyValue empty set",
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}},
        {"kms:encryptioncontextkeys": ()},
        NONE,
        SET_OPERATORS,
    ),
    Case(
        "ForAnyValue missing key",
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}},
        {},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "ForAllValues:StringNotLike deny, allowed keys",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:tagkeys": ("key1:hr", "key1:personnel")},
        ALLOW,
        MULTIVALUED_EXAMPLES,
        deny=True,
    ),
    Case(
        "ForAllValues:StringNotLike deny, other key",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {"aws:tagkeys": ("key2:audit",)},
        DENY,
        MULTIVALUED_EXAMPLES,
        deny=True,
    ),
    Case(
        "ForAllValues:StringNotLike deny, no keys",
        {"ForAllValues:StringNotLike": {"aws:TagKeys": "key1*"}},
        {},
        DENY,
        MULTIVALUED_EXAMPLES,
        deny=True,
    ),
    # Logic of several keys, values and blocks.
    Case(
        "values are ORed",
        {"StringEquals": {"kms:EncryptionContext:Stage": ["Restricted", "Production"]}},
        {"kms:encryptioncontext:stage": "Production"},
        DENY,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "values are ORed, neither",
        {"StringEquals": {"kms:EncryptionContext:Stage": ["Restricted", "Production"]}},
        {"kms:encryptioncontext:stage": "Test"},
        ALLOW,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "keys are ANDed",
        {
            "StringEquals": {
                "kms:EncryptionContext:Department": "IT",
                "kms:EncryptionContext:Project": "Alpha",
            }
        },
        {
            "kms:encryptioncontext:department": "IT",
            "kms:encryptioncontext:project": "Alpha",
        },
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "keys are ANDed, one missing",
        {
            "StringEquals": {
                "kms:EncryptionContext:Department": "IT",
                "kms:EncryptionContext:Project": "Alpha",
            }
        },
        {"kms:encryptioncontext:department": "IT"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "blocks are ANDed",
        {
            "StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"},
            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName"]},
        },
        {
            EC_APP: "ExampleApp",
            "kms:encryptioncontextkeys": ("AppName", "Stage"),
            "kms:encryptioncontext:stage": "Test",
        },
        NONE,
        KMS_KEYS,
    ),
    Case(
        "negated values are NORed",
        {
            "StringNotEquals": {
                "kms:EncryptionAlgorithm": ["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"]
            }
        },
        {"kms:encryptionalgorithm": "RSAES_OAEP_SHA_256"},
        NONE,
        MULTIPLE,
    ),
    Case(
        "negated values, none match",
        {
            "StringNotEquals": {
                "kms:EncryptionAlgorithm": ["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_256"]
            }
        },
        {"kms:encryptionalgorithm": "RSAES_OAEP_SHA_1"},
        ALLOW,
        MULTIPLE,
    ),
    Case(
        "condition key name ignores case",
        {"StringEquals": {"kms:EncryptionContext:Appname": "ExampleApp"}},
        {EC_APP: "ExampleApp"},
        ALLOW,
        KMS_KEYS,
    ),
]

KEY_CASES = [
    # kms:EncryptionContext:<key> and kms:EncryptionContextKeys.
    Case(
        "EncryptionContext pair present",
        {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}},
        {EC_APP: "ExampleApp", "kms:encryptioncontext:project": "Alpha"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "EncryptionContext deny restricted",
        {"StringEquals": {"kms:EncryptionContext:Stage": "Restricted"}},
        {"kms:encryptioncontext:stage": "Restricted"},
        DENY,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "EncryptionContext deny other stage",
        {"StringEquals": {"kms:EncryptionContext:Stage": "Restricted"}},
        {"kms:encryptioncontext:stage": "Test"},
        ALLOW,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "EncryptionContextKeys ForAnyValue",
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}},
        {"kms:encryptioncontextkeys": ("AppName", "Project")},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "EncryptionContextKeys ForAnyValue other",
        {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}},
        {"kms:encryptioncontextkeys": ("Project",)},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "EncryptionContextKeys ForAllValues subset",
        {
            "ForAllValues:StringEquals": {
                "kms:EncryptionContextKeys": ["Department", "Project"]
            }
        },
        {"kms:encryptioncontextkeys": ("Department",)},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "EncryptionContextKeys ForAllValues extra",
        {
            "ForAllValues:StringEquals": {
                "kms:EncryptionContextKeys": ["Department", "Project"]
            }
        },
        {"kms:encryptioncontextkeys": ("Department", "Stage")},
        NONE,
        KMS_KEYS,
    ),
    # Grant keys.
    Case(
        "GrantOperations ForAllValues",
        {
            "ForAllValues:StringEquals": {
                "kms:GrantOperations": ["Encrypt", "ReEncryptTo"]
            }
        },
        {"kms:grantoperations": ("Encrypt", "ReEncryptTo")},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "GrantOperations ForAllValues extra",
        {
            "ForAllValues:StringEquals": {
                "kms:GrantOperations": ["Encrypt", "ReEncryptTo"]
            }
        },
        {"kms:grantoperations": ("Encrypt", "Decrypt")},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "GrantOperations ForAnyValue",
        {
            "ForAnyValue:StringEquals": {
                "kms:GrantOperations": ["Encrypt", "ReEncryptTo"]
            }
        },
        {"kms:grantoperations": ("Encrypt", "Decrypt")},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "GranteePrincipal",
        {"StringEquals": {"kms:GranteePrincipal": LIMITED_ADMIN_ROLE}},
        {"kms:granteeprincipal": LIMITED_ADMIN_ROLE},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "GranteePrincipal other",
        {"StringEquals": {"kms:GranteePrincipal": LIMITED_ADMIN_ROLE}},
        {"kms:granteeprincipal": ROLE},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "RetiringPrincipal",
        {
            "StringEquals": {
                "kms:RetiringPrincipal": [
                    "arn:aws:iam::111122223333:role/LimitedAdminRole",
                    "arn:aws:iam::111122223333:user/OpsAdmin",
                ]
            }
        },
        {"kms:retiringprincipal": "arn:aws:iam::111122223333:user/OpsAdmin"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "RetiringPrincipal absent",
        {
            "StringEquals": {
                "kms:RetiringPrincipal": "arn:aws:iam::111122223333:user/OpsAdmin"
            }
        },
        {},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "GrantIsForAWSResource false",
        {"Bool": {"kms:GrantIsForAWSResource": True}},
        {"kms:grantisforawsresource": "false"},
        NONE,
        KMS_KEYS,
    ),
    # Key properties and request parameters.
    Case(
        "CallerAccount",
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        {"kms:calleraccount": ACCOUNT},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "CallerAccount other",
        {"StringEquals": {"kms:CallerAccount": ACCOUNT}},
        {"kms:calleraccount": "444455556666"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "EncryptionAlgorithm deny other",
        {"StringNotEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}},
        {"kms:encryptionalgorithm": "RSAES_OAEP_SHA_1"},
        DENY,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "EncryptionAlgorithm deny same",
        {"StringNotEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}},
        {"kms:encryptionalgorithm": "RSAES_OAEP_SHA_256"},
        ALLOW,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "KeySpec",
        {"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}},
        {"kms:keyspec": "SYMMETRIC_DEFAULT"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "KeyUsage",
        {"StringEquals": {"kms:KeyUsage": "ENCRYPT_DECRYPT"}},
        {"kms:keyusage": "SIGN_VERIFY"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "KeyOrigin",
        {"StringEquals": {"kms:KeyOrigin": "AWS_KMS"}},
        {"kms:keyorigin": "AWS_KMS"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "KeyOrigin external",
        {"StringEquals": {"kms:KeyOrigin": "AWS_KMS"}},
        {"kms:keyorigin": "EXTERNAL"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "RequestAlias",
        {"StringEquals": {"kms:RequestAlias": "alias/finance-key"}},
        {"kms:requestalias": "alias/finance-key"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "RequestAlias key id used",
        {"StringEquals": {"kms:RequestAlias": "alias/finance-key"}},
        {},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "ResourceAliases ForAnyValue",
        {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/finance-key"}},
        {"kms:resourcealiases": ("alias/finance-key", "alias/other")},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "ResourceAliases both qualifiers, none",
        {
            "ForAllValues:StringLike": {"kms:ResourceAliases": ["alias/*Test*"]},
            "ForAnyValue:StringLike": {"kms:ResourceAliases": ["alias/*Test*"]},
        },
        {"kms:resourcealiases": ()},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "ResourceAliases ForAllValues, none",
        {"ForAllValues:StringLike": {"kms:ResourceAliases": ["alias/*Test*"]}},
        {"kms:resourcealiases": ()},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "ResourceAliases both qualifiers, mixed",
        {
            "ForAllValues:StringLike": {"kms:ResourceAliases": ["alias/*Test*"]},
            "ForAnyValue:StringLike": {"kms:ResourceAliases": ["alias/*Test*"]},
        },
        {"kms:resourcealiases": ("alias/MyTest", "alias/prod")},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "RotationPeriodInDays within limit",
        {"NumericLessThanEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "90"},
        ALLOW,
        ENABLE_KEY_ROTATION,
    ),
    Case(
        "RotationPeriodInDays over limit",
        {"NumericLessThanEquals": {"kms:RotationPeriodInDays": "180"}},
        {"kms:rotationperiodindays": "365"},
        NONE,
        ENABLE_KEY_ROTATION,
    ),
    Case(
        "PendingWindowInDays deny short",
        {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}},
        {"kms:schedulekeydeletionpendingwindowindays": "7"},
        DENY,
        SCHEDULE_KEY_DELETION,
        deny=True,
    ),
    Case(
        "PendingWindowInDays deny thirty",
        {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}},
        {"kms:schedulekeydeletionpendingwindowindays": "30"},
        ALLOW,
        SCHEDULE_KEY_DELETION,
        deny=True,
    ),
    Case(
        "ReEncryptOnSameKey",
        {"Bool": {"kms:ReEncryptOnSameKey": True}},
        {"kms:reencryptonsamekey": "true"},
        ALLOW,
        KMS_KEYS,
    ),
    Case(
        "ReEncryptOnSameKey other key",
        {"Bool": {"kms:ReEncryptOnSameKey": True}},
        {"kms:reencryptonsamekey": "false"},
        NONE,
        KMS_KEYS,
    ),
    Case(
        "BypassPolicyLockoutSafetyCheck deny",
        {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": True}},
        {"kms:bypasspolicylockoutsafetycheck": "true"},
        DENY,
        KMS_KEYS,
        deny=True,
    ),
    Case(
        "BypassPolicyLockoutSafetyCheck deny, false",
        {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": True}},
        {"kms:bypasspolicylockoutsafetycheck": "false"},
        ALLOW,
        KMS_KEYS,
        deny=True,
    ),
    # Global condition keys.
    Case(
        "PrincipalArn deny others",
        {
            "ArnNotEquals": {
                "aws:PrincipalArn": "arn:aws:iam::444455556666:user/user-name"
            }
        },
        {"aws:principalarn": ROLE},
        DENY,
        PRINCIPAL,
        deny=True,
    ),
    Case(
        "PrincipalArn deny, exempt",
        {"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
        {"aws:principalarn": ROLE},
        ALLOW,
        PRINCIPAL,
        deny=True,
    ),
    Case(
        "PrincipalAccount",
        {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        {"aws:principalaccount": ACCOUNT},
        ALLOW,
        GLOBAL_KEYS,
    ),
    Case(
        "PrincipalAccount other",
        {"StringEquals": {"aws:PrincipalAccount": "444455556666"}},
        {"aws:principalaccount": ACCOUNT},
        NONE,
        GLOBAL_KEYS,
    ),
    Case(
        "SourceIp deny outside",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:sourceip": "198.51.100.1"},
        DENY,
        GLOBAL_KEYS,
        deny=True,
    ),
    Case(
        "SourceIp deny inside",
        {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}},
        {"aws:sourceip": "192.0.2.10"},
        ALLOW,
        GLOBAL_KEYS,
        deny=True,
    ),
    Case(
        "CurrentTime before end",
        {"DateLessThan": {"aws:CurrentTime": "2027-06-30T00:00:00Z"}},
        {"aws:currenttime": "2026-12-04T10:00:00Z"},
        ALLOW,
        GLOBAL_KEYS,
    ),
    Case(
        "RequestTag",
        {"StringEquals": {"aws:RequestTag/Project": "Alpha"}},
        {"aws:requesttag/project": "Alpha"},
        ALLOW,
        GLOBAL_KEYS,
    ),
    Case(
        "RequestTag other value",
        {"StringEquals": {"aws:RequestTag/Project": "Alpha"}},
        {"aws:requesttag/project": "Beta"},
        NONE,
        GLOBAL_KEYS,
    ),
    Case(
        "ResourceTag",
        {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        {"aws:resourcetag/project": "Alpha"},
        ALLOW,
        GLOBAL_KEYS,
    ),
    Case(
        "ResourceTag untagged key",
        {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}},
        {},
        NONE,
        GLOBAL_KEYS,
    ),
    Case(
        "TagKeys ForAllValues",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Owner"]}},
        {"aws:tagkeys": ("Project",)},
        ALLOW,
        GLOBAL_KEYS,
    ),
    Case(
        "TagKeys ForAllValues extra",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["Project", "Owner"]}},
        {"aws:tagkeys": ("Project", "CostCenter")},
        NONE,
        GLOBAL_KEYS,
    ),
    Case(
        "TagKeys ForAnyValue deny",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": "Owner"}},
        {"aws:tagkeys": ("Owner", "Project")},
        DENY,
        GLOBAL_KEYS,
        deny=True,
    ),
]


@pytest.mark.parametrize("case", OPERATOR_CASES, ids=lambda case: case.name)
def test_condition_operator(case: Case) -> None:
    assert case.policy().evaluate(case.request()) is case.expected, case.source


@pytest.mark.parametrize("case", KEY_CASES, ids=lambda case: case.name)
def test_condition_key(case: Case) -> None:
    assert case.policy().evaluate(case.request()) is case.expected, case.source
