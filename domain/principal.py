"""The authenticated caller of a request: an IAM principal and a Region."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.policy import Policy


@dataclass(frozen=True, slots=True)
class Principal:
    """An IAM identity that KeyLedger's credentials file declares."""

    account_id: str
    arn: str
    """The IAM ARN, such as ``arn:aws:iam::111122223333:root`` or ``...:role/app``."""
    access_key_id: str
    identity_policy: Policy | None = field(default=None, compare=False, repr=False)
    """The IAM policy attached to the principal; None grants it nothing."""

    @property
    def is_account_root(self) -> bool:
        """The account root holds every permission in its own account, as in IAM."""
        return self.arn == f"arn:aws:iam::{self.account_id}:root"


@dataclass(frozen=True, slots=True)
class Caller:
    """A principal together with the Region its request was signed for."""

    principal: Principal
    region: str
    """The Region from the SigV4 credential scope."""
    source_ip: str = ""
    """The address the request came from, for the aws:SourceIp condition key."""
