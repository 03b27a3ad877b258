"""The botocore KMS service model: the machine-readable contract."""

from __future__ import annotations

from functools import cache

from botocore.loaders import create_loader
from botocore.model import ServiceModel


@cache
def kms_service_model() -> ServiceModel:
    """Load botocore's KMS model file directly; a botocore session costs more."""
    return ServiceModel(create_loader().load_service_model("kms", "service-2"), "kms")


@cache
def kms_operation_names() -> frozenset[str]:
    return frozenset(kms_service_model().operation_names)
