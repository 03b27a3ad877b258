"""The credentials that SigV4 requests are verified against.

The operator declares callers in a TOML file, one ``[[principals]]`` table each::

    [[principals]]
    access_key_id = "AKIAEXAMPLEAPP"
    secret_access_key = "..."
    account_id = "111122223333"
    arn = "arn:aws:iam::111122223333:role/app"   # optional, default: account root
    session_token = "..."                        # optional
    identity_policy = '''{"Version": "2012-10-17", "Statement": [...]}'''
    # or identity_policy_file = "app-policy.json", relative to this file

The identity policy is the IAM policy attached to the principal: it grants
what the principal may do where a key policy delegates to its account, and
on actions that act on no key (CreateKey, ListKeys, ...). A principal
without one is granted nothing by IAM. The account root has every
permission of its own account and takes no identity policy, as in IAM.

Without a file, exactly one development credential exists (``test`` / ``test``,
the root of account 111122223333). With a file, only the principals it
declares exist.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.errors import MalformedPolicyDocumentException
from domain.policy import Policy, PolicyKind
from domain.principal import Principal

DEVELOPMENT_ACCESS_KEY_ID = "test"
DEVELOPMENT_SECRET_ACCESS_KEY = "test"  # noqa: S105 - the documented development credential
DEVELOPMENT_ACCOUNT_ID = "111122223333"

_REQUIRED_FIELDS = ("access_key_id", "secret_access_key", "account_id")
_OPTIONAL_FIELDS = ("arn", "session_token")
_IDENTITY_POLICY_FIELDS = ("identity_policy", "identity_policy_file")

# Access key ids travel inside the SigV4 credential scope, which is split on
# "/", so they are limited to characters that cannot break that format.
_ACCESS_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
# IAM names: 1 to 64 of letters, digits and +=,.@_- after an optional path.
_IAM_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):"
    r"(?:root|(?:user|role)/(?:[!-~]+/)?[A-Za-z0-9+=,.@_-]{1,64})"
)


class CredentialsFileError(ValueError):
    """The credentials file is unreadable or declares an invalid principal."""


@dataclass(frozen=True, slots=True)
class Credential:
    """One caller's access key, its secret and the principal it authenticates.

    The secret access key and the session token are left out of ``repr`` so
    that a logged or printed credential shows neither.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    account_id: str
    arn: str
    session_token: str | None = field(default=None, repr=False)
    identity_policy: Policy | None = field(default=None, repr=False, compare=False)
    principal: Principal = field(init=False, repr=False, compare=False)
    """The principal this credential authenticates, built once with the credential."""

    def __post_init__(self) -> None:
        principal = Principal(
            account_id=self.account_id,
            arn=self.arn,
            access_key_id=self.access_key_id,
            identity_policy=self.identity_policy,
        )
        object.__setattr__(self, "principal", principal)


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


class CredentialStore:
    """The credentials KeyLedger accepts, looked up by access key id."""

    def __init__(self, credentials: Iterable[Credential]) -> None:
        by_access_key_id: dict[str, Credential] = {}
        for credential in credentials:
            if credential.access_key_id in by_access_key_id:
                raise CredentialsFileError(
                    f"access key id {credential.access_key_id!r} is declared twice"
                )
            by_access_key_id[credential.access_key_id] = credential
        self._by_access_key_id = by_access_key_id
        self._principal_arns = frozenset(c.arn for c in by_access_key_id.values())
        self._accounts = frozenset(c.account_id for c in by_access_key_id.values())

    @classmethod
    def development_default(cls) -> CredentialStore:
        """Return the store used when no credentials file is configured."""
        return cls(
            [
                Credential(
                    access_key_id=DEVELOPMENT_ACCESS_KEY_ID,
                    secret_access_key=DEVELOPMENT_SECRET_ACCESS_KEY,
                    account_id=DEVELOPMENT_ACCOUNT_ID,
                    arn=root_arn(DEVELOPMENT_ACCOUNT_ID),
                )
            ]
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> CredentialStore:
        """Load a TOML credentials file, or raise CredentialsFileError."""
        source = os.fspath(path)
        try:
            with open(source, "rb") as file:
                document = tomllib.load(file)
        except OSError as error:
            raise CredentialsFileError(
                f"cannot read credentials file {source}: {error.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as error:
            # The decoder's message names a line and column, never the text.
            raise CredentialsFileError(
                f"credentials file {source} is not valid TOML: {error}"
            ) from None
        except UnicodeDecodeError as error:
            # The offset alone, because the bytes may belong to a secret.
            raise CredentialsFileError(
                f"credentials file {source} is not valid UTF-8: invalid byte at "
                f"offset {error.start}; TOML files must be UTF-8"
            ) from None
        return cls(_parse_document(document, source, os.path.dirname(source)))

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> CredentialStore:
        """Parse credentials from TOML text, naming it ``source`` in error messages."""
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise CredentialsFileError(
                f"credentials file {source} is not valid TOML: {error}"
            ) from None
        return cls(_parse_document(document, source, None))

    def get(self, access_key_id: str) -> Credential | None:
        return self._by_access_key_id.get(access_key_id)

    def __len__(self) -> int:
        return len(self._by_access_key_id)

    def principal_exists(self, arn: str) -> bool:
        """Tell whether a key policy may name this IAM user or role ARN.

        AWS refuses a key policy that names a principal that does not exist.
        The credentials file declares every principal of its accounts, so
        KeyLedger rejects the others there too. A principal of an account the
        file does not declare may exist elsewhere, so it is accepted.
        """
        if arn in self._principal_arns:
            return True
        match = _IAM_ARN.fullmatch(arn)
        return match is not None and match["account"] not in self._accounts


def _parse_document(
    document: Mapping[str, Any], source: str, base_dir: str | None
) -> list[Credential]:
    unknown = sorted(set(document) - {"principals"})
    if unknown:
        raise CredentialsFileError(
            f"credentials file {source}: unknown top-level key(s) "
            f"{', '.join(unknown)}. Only [[principals]] tables are allowed."
        )
    entries = document.get("principals")
    if not isinstance(entries, list) or not entries:
        raise CredentialsFileError(
            f"credentials file {source} declares no [[principals]] tables. "
            "A credentials file replaces the development credential, so an "
            "empty one would reject every request."
        )

    credentials: list[Credential] = []
    first_entry_by_key: dict[str, int] = {}
    first_entry_by_identity: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"credentials file {source}, [[principals]] entry {number}"
        if not isinstance(entry, dict):
            raise CredentialsFileError(f"{where}: must be a table")
        credential = _parse_entry(entry, where, base_dir)

        earlier = first_entry_by_key.get(credential.access_key_id)
        if earlier is not None:
            raise CredentialsFileError(
                f"{where}: access_key_id {credential.access_key_id!r} is "
                f"already declared by entry {earlier}"
            )
        first_entry_by_key[credential.access_key_id] = number
        # IAM keeps user and role names unique in an account whatever their
        # paths, and grants match a role by its name, so two entries naming
        # one identity through different paths would be one principal twice.
        identity = _identity_name(credential.arn)
        earlier = first_entry_by_identity.get(identity)
        if earlier is not None and credentials[earlier - 1].arn != credential.arn:
            raise CredentialsFileError(
                f"{where}: arn {credential.arn!r} has the same name as the arn "
                f"{credentials[earlier - 1].arn!r} of entry {earlier}; IAM user "
                "and role names are unique in an account, whatever their paths"
            )
        first_entry_by_identity.setdefault(identity, number)
        credentials.append(credential)
    return credentials


def _identity_name(arn: str) -> str:
    """Reduce an IAM ARN to its account, kind and name, without the path."""
    account_and_resource = arn.split(":", 4)[-1]
    kind, _, rest = account_and_resource.partition(":")[2].partition("/")
    name = rest.rsplit("/", 1)[-1]
    return f"{arn.split(':')[4]}:{kind}/{name}"


def _parse_entry(
    entry: Mapping[str, Any], where: str, base_dir: str | None
) -> Credential:
    allowed_fields = _REQUIRED_FIELDS + _OPTIONAL_FIELDS + _IDENTITY_POLICY_FIELDS
    unknown = sorted(set(entry) - set(allowed_fields))
    if unknown:
        raise CredentialsFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}. Allowed keys are "
            f"{', '.join(allowed_fields)}."
        )
    for name in _REQUIRED_FIELDS:
        if name not in entry:
            raise CredentialsFileError(f"{where}: {name} is missing")

    access_key_id = _string_field(entry, "access_key_id", where)
    if not _ACCESS_KEY_ID.fullmatch(access_key_id):
        raise CredentialsFileError(
            f"{where}: access_key_id {access_key_id!r} is invalid. Use 1 to "
            "128 ASCII letters, digits, '_', '.' or '-'."
        )

    secret_access_key = _string_field(entry, "secret_access_key", where)

    account_id = _account_id_field(entry, where)

    arn = root_arn(account_id)
    if "arn" in entry:
        arn = _string_field(entry, "arn", where)
        match = _IAM_ARN.fullmatch(arn)
        if match is None:
            raise CredentialsFileError(
                f"{where}: arn {arn!r} is not an IAM ARN of the form "
                f"arn:aws:iam::{account_id}:root, ...:user/<name> or "
                "...:role/<name>"
            )
        if match["account"] != account_id:
            raise CredentialsFileError(
                f"{where}: arn {arn!r} belongs to account {match['account']}, "
                f"but account_id is {account_id}"
            )

    session_token = None
    if "session_token" in entry:
        session_token = _string_field(entry, "session_token", where)

    identity_policy = _identity_policy(entry, where, base_dir)
    if identity_policy is not None and arn == root_arn(account_id):
        raise CredentialsFileError(
            f"{where}: the account root {arn} cannot have an identity policy. "
            "It holds every permission of its account, as in IAM; declare an "
            "IAM user or role (arn = ...) to limit what a caller may do."
        )

    return Credential(
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        account_id=account_id,
        arn=arn,
        session_token=session_token,
        identity_policy=identity_policy,
    )


def _identity_policy(
    entry: Mapping[str, Any], where: str, base_dir: str | None
) -> Policy | None:
    if "identity_policy" in entry and "identity_policy_file" in entry:
        raise CredentialsFileError(
            f"{where}: declare identity_policy or identity_policy_file, not both"
        )
    if "identity_policy" in entry:
        text = _string_field(entry, "identity_policy", where)
        origin = "identity_policy"
    elif "identity_policy_file" in entry:
        path = _string_field(entry, "identity_policy_file", where)
        if base_dir is not None:
            path = os.path.join(base_dir, path)
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read()
        except OSError as error:
            raise CredentialsFileError(
                f"{where}: cannot read identity_policy_file {path}: {error.strerror}"
            ) from None
        except UnicodeDecodeError:
            raise CredentialsFileError(
                f"{where}: identity_policy_file {path} is not valid UTF-8"
            ) from None
        origin = f"identity_policy_file {path}"
    else:
        return None
    try:
        return Policy.parse(text, PolicyKind.IDENTITY)
    except MalformedPolicyDocumentException as error:
        raise CredentialsFileError(
            f"{where}: {origin} is not a valid IAM policy: {error.message}"
        ) from None


def _string_field(entry: Mapping[str, Any], name: str, where: str) -> str:
    # Values are never echoed here, because this field may be a secret.
    value = entry[name]
    if not isinstance(value, str):
        raise CredentialsFileError(
            f"{where}: {name} must be a string, got a TOML {type(value).__name__}"
        )
    if not value:
        raise CredentialsFileError(f"{where}: {name} is empty")
    return value


def _account_id_field(entry: Mapping[str, Any], where: str) -> str:
    value = entry["account_id"]
    if isinstance(value, int) and not isinstance(value, bool):
        raise CredentialsFileError(
            f"{where}: account_id must be a quoted string of 12 digits, such "
            f'as "{DEVELOPMENT_ACCOUNT_ID}", because a TOML integer would '
            "lose leading zeros."
        )
    account_id = _string_field(entry, "account_id", where)
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise CredentialsFileError(
            f"{where}: account_id {account_id!r} is invalid. An AWS account "
            "id is exactly 12 digits."
        )
    return account_id
