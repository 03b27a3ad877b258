"""Rules of imported key material: wrapping choices, import tokens, expiry.

The rules follow the AWS KMS API reference (GetParametersForImport,
ImportKeyMaterial, DeleteImportedKeyMaterial) and the developer guide's
"Importing key material" steps:

- A key created with origin EXTERNAL has no key material and waits in
  PendingImport. Each GetParametersForImport returns a fresh RSA wrapping key
  and an import token, valid together for 24 hours and for one import.
- Symmetric key material is 256 bits. It may be wrapped with any of the four
  RSAES_OAEP / RSA_AES_KEY_WRAP algorithms under an RSA_2048, RSA_3072 or
  RSA_4096 wrapping key. AWS rejects RSAES_PKCS1_V1_5 since October 10, 2023.
- ExpirationModel defaults to KEY_MATERIAL_EXPIRES, which needs a ValidTo in
  the next 365 days; KEY_MATERIAL_DOES_NOT_EXPIRE takes no ValidTo.
- After the first import only the same key material may be imported again
  (EXISTING_KEY_MATERIAL), or new key material for on-demand rotation
  (NEW_KEY_MATERIAL), which waits in PENDING_ROTATION until RotateKeyOnDemand.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidImportTokenException,
    KMSInvalidStateException,
    UnsupportedOperationException,
    ValidationException,
)

ORIGIN_EXTERNAL = "EXTERNAL"
PARAMETERS_VALIDITY = timedelta(hours=24)
MAX_VALID_TO_AHEAD = timedelta(days=365)
# "Requirements for imported key material" (developer guide): symmetric
# encryption key material is 256 bits of binary data.
SYMMETRIC_KEY_MATERIAL_LENGTH = 32


class WrappingAlgorithm(StrEnum):
    RSAES_OAEP_SHA_1 = "RSAES_OAEP_SHA_1"
    RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
    RSA_AES_KEY_WRAP_SHA_1 = "RSA_AES_KEY_WRAP_SHA_1"
    RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"


WRAPPING_KEY_BITS = {"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}


class ExpirationModel(StrEnum):
    KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
    KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"


class ImportType(StrEnum):
    NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
    EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"


class ImportState(StrEnum):
    IMPORTED = "IMPORTED"
    PENDING_IMPORT = "PENDING_IMPORT"


@dataclass(frozen=True, slots=True)
class ImportParameters:
    """One GetParametersForImport response, as the key remembers it.

    Neither the import token nor the wrapping private key is kept in the
    clear: the token only as a digest, the private key only sealed.
    """

    parameters_id: str
    wrapping_algorithm: WrappingAlgorithm
    wrapping_key_spec: str
    valid_to: datetime
    token_digest: str
    sealed_wrapping_key: str | None
    """Base64 of the sealed wrapping private key; None once it is erased."""
    used: bool = False


@dataclass(frozen=True, slots=True)
class ImportedKeyMaterial:
    """One key material associated with an EXTERNAL key, present or not."""

    key_material_id: str
    description: str | None
    expiration_model: ExpirationModel
    valid_to: datetime | None
    imported: bool


@dataclass(frozen=True, slots=True)
class Expiration:
    """The ExpirationModel and ValidTo of one import."""

    model: ExpirationModel
    valid_to: datetime | None


# Wrapping choices.


def check_wrapping_choice(algorithm: str, wrapping_key_spec: str) -> int:
    """Return the wrapping key size in bits, or raise if KeyLedger rejects the pair.

    Every accepted algorithm works with every RSA wrapping key spec for
    256-bit symmetric key material (developer guide, "Select a wrapping
    algorithm" and "Select a wrapping public key spec").
    """
    if algorithm == "RSAES_PKCS1_V1_5":
        # NOTE: AWS's exception and wording for this rejection are not
        # confirmed; UnsupportedOperationException is the error the API
        # reference lists for a parameter that is not supported.
        raise UnsupportedOperationException(
            "The RSAES_PKCS1_V1_5 wrapping algorithm is not supported. As of "
            "October 10, 2023, AWS KMS does not support it; use RSAES_OAEP_SHA_256 "
            "or RSA_AES_KEY_WRAP_SHA_256."
        )
    if algorithm not in WrappingAlgorithm.__members__:
        raise UnsupportedOperationException(
            f"KeyLedger does not support the wrapping algorithm {algorithm}; "
            "AWS KMS offers it only in the China Regions."
        )
    bits = WRAPPING_KEY_BITS.get(wrapping_key_spec)
    if bits is None:
        raise UnsupportedOperationException(
            f"KeyLedger does not support the wrapping key spec {wrapping_key_spec}; "
            "AWS KMS offers it only in the China Regions."
        )
    return bits


# Import tokens.
#
# A token is a version byte, the id of its parameters (16 bytes) and 32 random
# bytes. The key stores only the SHA-256 digest of the whole token, beside the
# parameters it was issued with. A token then proves itself by matching that
# digest: one for another key names parameters the key does not have, and a
# changed token matches no digest. This needs no key of its own, unlike an
# encrypted token, and the digest of 256 random bits reveals nothing that
# could be used to rebuild the token.

_TOKEN_VERSION = b"\x01"
_PARAMETERS_ID_LENGTH = 16
_TOKEN_SECRET_LENGTH = 32
IMPORT_TOKEN_LENGTH = len(_TOKEN_VERSION) + _PARAMETERS_ID_LENGTH + _TOKEN_SECRET_LENGTH
_TOKEN_DIGEST_DOMAIN = b"keyledger/import-token/v1"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    parameters_id: str
    token: bytes
    digest: str


def issue_import_token(random: Callable[[int], bytes]) -> IssuedToken:
    parameters_id = random(_PARAMETERS_ID_LENGTH)
    token = _TOKEN_VERSION + parameters_id + random(_TOKEN_SECRET_LENGTH)
    return IssuedToken(parameters_id.hex(), token, import_token_digest(token))


def import_token_digest(token: bytes) -> str:
    return hashlib.sha256(_TOKEN_DIGEST_DOMAIN + token).hexdigest()


def find_import_parameters(
    issued: Mapping[str, ImportParameters], token: bytes, key_arn: str, now: datetime
) -> ImportParameters:
    """Return the parameters ``token`` was issued with, if it is still usable.

    Messages never repeat the token, which is as secret as key material.
    """
    invalid = InvalidImportTokenException(
        f"The import token is not valid for {key_arn}. Use the import token from "
        "the GetParametersForImport response that returned your wrapping public "
        "key."
    )
    if len(token) != IMPORT_TOKEN_LENGTH or not token.startswith(_TOKEN_VERSION):
        raise invalid
    parameters_id = token[1 : 1 + _PARAMETERS_ID_LENGTH].hex()
    parameters = issued.get(parameters_id)
    if parameters is None or not hmac.compare_digest(
        parameters.token_digest, import_token_digest(token)
    ):
        raise invalid
    if parameters.used:
        raise InvalidImportTokenException(
            f"The import token was already used to import key material into "
            f"{key_arn}. Call GetParametersForImport for a new wrapping public key "
            "and import token for each import."
        )
    if now >= parameters.valid_to:
        raise ExpiredImportTokenException(
            f"The import token for {key_arn} expired at "
            f"{parameters.valid_to.isoformat()}. Call GetParametersForImport for a "
            "new wrapping public key and import token."
        )
    return parameters


def wrapping_key_sealing_id(parameters_id: str) -> str:
    """Return the row id of a wrapping key's sealing key.

    Key material ids are 64 hexadecimal digits, so this can never equal one.
    """
    return f"wrapping-key-{parameters_id}"


# Key material ids and expiry.


_KEY_MATERIAL_ID_DOMAIN = b"keyledger/imported-key-material-id/v1:"


def imported_key_material_id(key_id: str, material: bytes) -> str:
    """Derive the id of imported key material from the key id and the material.

    AWS derives it "based on the KMS key ID and the imported key material"
    (ImportKeyMaterial, KeyMaterialId), so importing the same material again
    gives back the same id, and ciphertexts made before the material was
    deleted name it and decrypt again. The id is HMAC-SHA256 keyed with the
    material itself, so it can be published (every ciphertext blob carries
    it) without revealing the material. Equal ids mean equal material, so
    KeyLedger distinguishes a reimport from different material without keeping the
    material anywhere in the clear.

    NOTE: like AWS's id, it lets anyone who can guess key material of low
    entropy confirm the guess; 256 random bits cannot be guessed.
    """
    return hmac.new(
        material, _KEY_MATERIAL_ID_DOMAIN + key_id.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def expiration_of(
    expiration_model: str | None, valid_to: Any, now: datetime
) -> Expiration:
    """Check ExpirationModel and ValidTo as ImportKeyMaterial does.

    ``valid_to`` is epoch seconds as the request carries it, or None.
    """
    model = ExpirationModel(expiration_model or ExpirationModel.KEY_MATERIAL_EXPIRES)
    if model is ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE:
        if valid_to is not None:
            # NOTE: AWS's wording here is not confirmed; this is local-kms's.
            raise ValidationException(
                "The parameter ValidTo cannot be specified for a key with an "
                "expiration model of KEY_MATERIAL_DOES_NOT_EXPIRE"
            )
        return Expiration(model, None)
    if valid_to is None:
        # The message AWS returned, as recorded in LocalStack's AWS-validated
        # snapshot of ImportKeyMaterial without ValidTo.
        raise ValidationException(
            "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
        )
    try:
        moment = datetime.fromtimestamp(float(valid_to), UTC)
    except (OverflowError, OSError, ValueError):
        moment = None
    if moment is None or moment <= now:
        raise ValidationException(
            "ValidTo must be a date and time in the future, at most 365 days from now."
        )
    if moment > now + MAX_VALID_TO_AHEAD:
        raise ValidationException(
            f"ValidTo must be at most 365 days from now; {moment.isoformat()} is later."
        )
    return Expiration(model, moment)


def earliest_expiry(
    materials: list[ImportedKeyMaterial],
) -> tuple[ExpirationModel | None, datetime | None]:
    """Return the key's ExpirationModel and ValidTo as DescribeKey reports them.

    KeyMetadata.ValidTo is "the earliest time at which any imported key
    material permanently associated with this KMS key expires"; the model is
    KEY_MATERIAL_EXPIRES when any of that material expires. Before the first
    import neither is known, and both are omitted.
    """
    if not materials:
        return None, None
    expiring = [
        material
        for material in materials
        if material.expiration_model is ExpirationModel.KEY_MATERIAL_EXPIRES
    ]
    if not expiring:
        return ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE, None
    dates = [m.valid_to for m in expiring if m.imported and m.valid_to is not None]
    return ExpirationModel.KEY_MATERIAL_EXPIRES, min(dates) if dates else None


def check_import_type(
    *,
    key_arn: str,
    key_material_id: str,
    import_type: str | None,
    requested_key_material_id: str | None,
    associated: Mapping[str, ImportedKeyMaterial],
    pending_key_material_id: str | None,
) -> None:
    """Raise the error AWS gives if the key material cannot be imported as asked.

    ImportType defaults to NEW_KEY_MATERIAL until key material was first
    imported, and to EXISTING_KEY_MATERIAL after. IncorrectKeyMaterialException
    covers key material that "is not the same key material that was
    previously imported" and new key material that "is already associated
    with the KMS key".
    """
    if import_type is not None:
        kind = ImportType(import_type)
    elif associated:
        kind = ImportType.EXISTING_KEY_MATERIAL
    else:
        kind = ImportType.NEW_KEY_MATERIAL
    if kind is ImportType.NEW_KEY_MATERIAL:
        check_new_key_material_request(requested_key_material_id)
        if key_material_id in associated:
            raise IncorrectKeyMaterialException(
                f"The key material is already associated with {key_arn} as key "
                f"material {key_material_id}. Import it again with ImportType "
                "EXISTING_KEY_MATERIAL."
            )
        if pending_key_material_id is not None:
            # The message LocalStack gives, recorded against AWS.
            raise KMSInvalidStateException(
                f"New key material (id: {key_material_id}) cannot be imported into "
                f"KMS key {key_arn}, because another key material "
                f"(id: {pending_key_material_id}) is pending rotation."
            )
        return
    if (
        requested_key_material_id is not None
        and requested_key_material_id != key_material_id
    ):
        raise IncorrectKeyMaterialException(
            f"The key material is not key material {requested_key_material_id} of "
            f"{key_arn}."
        )
    if key_material_id not in associated:
        raise IncorrectKeyMaterialException(
            f"The key material is not the key material previously imported into "
            f"{key_arn}. Import the same key material again, or new key material "
            "with ImportType NEW_KEY_MATERIAL."
        )


def check_new_key_material_request(requested_key_material_id: str | None) -> None:
    """KeyMaterialId (ImportKeyMaterial): "You cannot specify a key material ID
    with ImportType set to NEW_KEY_MATERIAL"."""
    if requested_key_material_id is not None:
        raise ValidationException(
            "You cannot specify a KeyMaterialId with ImportType set to "
            "NEW_KEY_MATERIAL."
        )


def check_key_material_length(material: bytes) -> None:
    if len(material) != SYMMETRIC_KEY_MATERIAL_LENGTH:
        # IncorrectKeyMaterialException covers key material that "is invalid".
        raise IncorrectKeyMaterialException(
            "Symmetric encryption key material must be 256 bits (32 bytes); the "
            f"imported key material is {len(material)} bytes."
        )
