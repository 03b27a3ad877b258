"""Fixtures for in-process tests that build Services on a store of their own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from domain.clock import AdjustableClock
from functions.services import Services, build_services
from functions.settings import Settings

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
