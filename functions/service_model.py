"""The botocore KMS service model: the machine-readable contract."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import ServiceModel


@cache
def kms_service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("kms")


@cache
def kms_operation_names() -> frozenset[str]:
    return frozenset(kms_service_model().operation_names)
