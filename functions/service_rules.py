"""Input rules that AWS KMS enforces beyond what its service model states.

Each rule's ``source`` names the AWS API reference page that states the rule and,
for some messages, the public report that recorded AWS's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from functions.shape_checks import _NOT_NULL, _validation_message, _violation


@dataclass(frozen=True)
class ServiceRule:
    """An input rule AWS KMS enforces that the service model does not state.

    ``check`` returns the ValidationException message, or None when the
    parameters pass. Rules run only on requests the model accepts, in table
    order, and the first failure is raised.
    """

    operations: tuple[str, ...]
    source: str
    check: Callable[[Mapping[str, Any]], str | None]


def _check_pending_window(params: Mapping[str, Any]) -> str | None:
    days = params.get("PendingWindowInDays")
    if days is None:
        return None
    # NOTE: AWS's wording for this rule is not confirmed. It is written in the
    # format of the model's own range violations.
    if days < 7:
        constraint = "Member must have value greater than or equal to 7"
    elif days > 30:
        constraint = "Member must have value less than or equal to 30"
    else:
        return None
    return _validation_message(
        [_violation(f"'{days}'", "pendingWindowInDays", constraint)]
    )


_NUMBER_OR_SPEC_MESSAGE: Final = "Please specify either number of bytes or key spec."


# The message AWS returned for GenerateRandom without NumberOfBytes in 2023, as
# recorded in LocalStack's AWS-validated snapshot; in 2019 it was the message
# above, which GenerateDataKey still uses.
_NUMBER_OF_BYTES_REQUIRED_MESSAGE: Final = "NumberOfBytes is required."


def _check_random_length(params: Mapping[str, Any]) -> str | None:
    if "NumberOfBytes" in params:
        return None
    return _NUMBER_OF_BYTES_REQUIRED_MESSAGE


def _check_data_key_length(params: Mapping[str, Any]) -> str | None:
    if ("KeySpec" in params) == ("NumberOfBytes" in params):
        # NOTE: AWS's message when both members are given is not confirmed.
        # This is the one it returns when neither is, as KMS emulators also use.
        return _NUMBER_OR_SPEC_MESSAGE
    return None


def _check_single_key_spec(params: Mapping[str, Any]) -> str | None:
    if "KeySpec" in params and "CustomerMasterKeySpec" in params:
        return (
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same"
            " request. CustomerMasterKeySpec is deprecated."
        )
    return None


_ALIAS_CHARACTERS: Final = re.compile(r"[a-zA-Z0-9/_-]+")


def _check_alias_name(params: Mapping[str, Any]) -> str | None:
    alias_name: str = params["AliasName"]
    if not alias_name.startswith("alias/"):
        return (
            'Alias must start with the prefix "alias/". Please see'
            " https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    # The model's pattern also allows ':', which the service rejects.
    if _ALIAS_CHARACTERS.fullmatch(alias_name) is None:
        return f"{alias_name} contains invalid characters for an alias"
    return None


def _check_ciphertext_present(params: Mapping[str, Any]) -> str | None:
    if "CiphertextBlob" in params:
        return None
    ignores_ciphertext = params.get("DryRun") is True and "IGNORE_CIPHERTEXT" in (
        params.get("DryRunModifiers") or ()
    )
    if ignores_ciphertext:
        return None
    # NOTE: AWS's response to a missing CiphertextBlob is not confirmed. This
    # is the message the model's own check gives for a missing required blob.
    return _validation_message([_violation(None, "ciphertextBlob", _NOT_NULL)])


SERVICE_RULES: Final[tuple[ServiceRule, ...]] = (
    ServiceRule(
        operations=("ScheduleKeyDeletion",),
        source="API_ScheduleKeyDeletion, PendingWindowInDays: between 7 and 30,"
        " inclusive (the model allows 1 to 365)",
        check=_check_pending_window,
    ),
    ServiceRule(
        operations=("GenerateRandom",),
        source="API_GenerateRandom, NumberOfBytes: 'This parameter is required'"
        " (the model marks it optional); message as AWS returned it in a 2019"
        " report on the local-kms issue tracker",
        check=_check_random_length,
    ),
    ServiceRule(
        operations=("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"),
        source="API_GenerateDataKey, KeySpec and NumberOfBytes: 'You must specify"
        " either the KeySpec or the NumberOfBytes parameter (but not both)'",
        check=_check_data_key_length,
    ),
    ServiceRule(
        operations=("CreateKey",),
        source="API_CreateKey, CustomerMasterKeySpec: deprecated for KeySpec;"
        " message as AWS returned it in a 2021 SPIRE pull request discussion",
        check=_check_single_key_spec,
    ),
    ServiceRule(
        operations=("CreateAlias",),
        source="API_CreateAlias, AliasName: must begin with alias/ and contain only"
        " alphanumerics, '/', '_' and '-'; messages as AWS returned them in"
        " reports on the ACK (2023) and Terraform AWS provider (2020) trackers",
        check=_check_alias_name,
    ),
    ServiceRule(
        operations=("Decrypt", "ReEncrypt"),
        source="API_Decrypt and API_ReEncrypt, CiphertextBlob: required unless"
        " DryRun is true and DryRunModifiers has IGNORE_CIPHERTEXT",
        check=_check_ciphertext_present,
    ),
)
