"""KMS errors, one class per exception name that AWS KMS returns.

The HTTP face turns each into ``{"__type": name, "message": message}`` with the
status the AWS KMS API reference gives. Messages never carry plaintext, key
material or ciphertext.
"""

from __future__ import annotations


class KMSError(Exception):
    """Base of every error a client may see, named as AWS KMS names it."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def name(self) -> str:
        return type(self).__name__


# Errors of the protocol and of authentication, which the service model does
# not list but every AWS JSON service returns.
class ValidationException(KMSError):
    pass


class SerializationException(KMSError):
    pass


class UnknownOperationException(KMSError):
    pass


class AccessDeniedException(KMSError):
    pass


class UnrecognizedClientException(KMSError):
    pass


class InvalidSignatureException(KMSError):
    pass


class IncompleteSignatureException(KMSError):
    pass


class MissingAuthenticationTokenException(KMSError):
    status = 403


class ThrottlingException(KMSError):
    pass


class RequestEntityTooLargeException(KMSError):
    status = 413


# Errors the KMS service model lists.
class AlreadyExistsException(KMSError):
    pass


class ConflictException(KMSError):
    pass


class DisabledException(KMSError):
    pass


class DryRunOperationException(KMSError):
    pass


class ExpiredImportTokenException(KMSError):
    pass


class IncorrectKeyException(KMSError):
    pass


class IncorrectKeyMaterialException(KMSError):
    pass


class InvalidAliasNameException(KMSError):
    pass


class InvalidArnException(KMSError):
    pass


class InvalidCiphertextException(KMSError):
    pass


class InvalidGrantIdException(KMSError):
    pass


class InvalidGrantTokenException(KMSError):
    pass


class InvalidImportTokenException(KMSError):
    pass


class InvalidKeyUsageException(KMSError):
    pass


class InvalidMarkerException(KMSError):
    pass


class KMSInvalidStateException(KMSError):
    pass


class LimitExceededException(KMSError):
    pass


class MalformedPolicyDocumentException(KMSError):
    pass


class NotFoundException(KMSError):
    pass


class TagException(KMSError):
    pass


class UnsupportedOperationException(KMSError):
    pass


class KMSInternalException(KMSError):
    status = 500


class DependencyTimeoutException(KMSError):
    status = 500


class KeyUnavailableException(KMSError):
    status = 500


INVALID_CIPHERTEXT_MESSAGE = ""
"""AWS returns InvalidCiphertextException with no message, whatever failed."""
