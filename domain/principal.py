"""The authenticated caller of a request: an IAM principal and a Region."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    """An IAM identity that KeyLedger's credentials file declares."""

    account_id: str
    arn: str
    """The IAM ARN, such as ``arn:aws:iam::111122223333:root`` or ``...:role/app``."""
    access_key_id: str


@dataclass(frozen=True, slots=True)
class Caller:
    """A principal together with the Region its request was signed for."""

    principal: Principal
    region: str
    """The Region from the SigV4 credential scope."""
