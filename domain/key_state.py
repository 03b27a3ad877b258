"""Key states and which states allow which kinds of request.

The rules follow the AWS KMS developer guide's "Key states of AWS KMS keys"
table: a disabled key refuses cryptographic use with DisabledException, a key
pending deletion refuses nearly everything with KMSInvalidStateException.
"""

from __future__ import annotations

from enum import StrEnum


class KeyState(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"
    UNAVAILABLE = "Unavailable"
    CREATING = "Creating"
    UPDATING = "Updating"
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
