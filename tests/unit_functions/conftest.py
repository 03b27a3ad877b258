"""Fixtures for in-process tests that build Services on a store of their own,
and the signed request that those tests send through the protocol layer."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from domain.clock import AdjustableClock
from functions import protocol
from functions.services import Services, build_services
from functions.settings import Settings

REGION = "us-east-1"
HOST = "kms.us-east-1.keyledger.test"

BACKENDS = [
    name.strip()
    for name in os.environ.get("KEYLEDGER_TEST_BACKENDS", "sqlite,postgres").split(",")
    if name.strip()
]


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for an empty store: a data directory, or a new PostgreSQL schema."""
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield Settings(data_dir=data_dir)
        return
    import psycopg

    base_url: str = request.getfixturevalue("postgres_url")
    schema = f"kl_inprocess_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield Settings(data_dir=data_dir, database_url=f"{base_url}?schema={schema}")
    finally:
        with psycopg.connect(base_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def open_services(
    settings: Settings,
) -> Iterator[Callable[[AdjustableClock], Services]]:
    """Build Services on the test's store; all are closed after the test."""
    opened: list[Services] = []

    def build(clock: AdjustableClock) -> Services:
        services = build_services(settings, clock=clock)
        opened.append(services)
        return services

    yield build
    for services in opened:
        services.close()


def serve_signed(
    services: Services, action: str, params: dict[str, Any]
) -> tuple[int, bytes]:
    """Sign a request as boto3 would and serve it through the whole protocol
    layer (SigV4, validation, handler); return the status and the body."""
    body = json.dumps(params).encode("utf-8")
    request = AWSRequest(
        method="POST",
        url=f"https://{HOST}/",
        data=body,
        headers={
            "Host": HOST,
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"TrentService.{action}",
        },
    )
    SigV4Auth(Credentials("test", "test"), "kms", REGION).add_auth(request)
    response = protocol.handle(
        services,
        protocol.HttpRequest(
            method="POST",
            path="/",
            query_string="",
            headers=[
                (name.lower(), str(value)) for name, value in request.headers.items()
            ],
            body=body,
        ),
    )
    return response.status, response.body
