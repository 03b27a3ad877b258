"""Services for the Lambda entry points, built from the function's environment.

A Lambda container serves many invocations, one at a time. So each entry
point builds its Services on the first invocation and keeps them for the
container's lifetime, and the store's connections, the cached keys and the
opened key material carry over from one invocation to the next.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Generic, TypeVar

from domain.clock import Clock
from functions.logs import configure_logging
from functions.services import Services, build_services
from functions.settings import Settings

ROOT_KEY_VARIABLE = "KEYLEDGER_ROOT_KEY"
DATABASE_URL_VARIABLE = "KEYLEDGER_DATABASE_URL"
CREDENTIALS_FILE_VARIABLE = "KEYLEDGER_CREDENTIALS_FILE"
DEV_CLOCK_VARIABLE = "KEYLEDGER_DEV_CLOCK"
LOG_LEVEL_VARIABLE = "KEYLEDGER_LOG_LEVEL"
# The Lambda runtime sets this variable in every function's environment.
LAMBDA_FUNCTION_NAME_VARIABLE = "AWS_LAMBDA_FUNCTION_NAME"

T = TypeVar("T")


class LambdaConfigurationError(Exception):
    """An environment that cannot run KeyLedger; the message names what to set."""


def running_on_lambda() -> bool:
    return bool(os.environ.get(LAMBDA_FUNCTION_NAME_VARIABLE))


def build_lambda_services(clock: Clock | None = None) -> Services:
    """Build Services from the ``KEYLEDGER_*`` variables of the function.

    Every container must share one root key and one store. A root key file or
    an SQLite store created in a container's /tmp would belong to that
    container alone, and keys created there would be lost with it. So the
    root key must come from KEYLEDGER_ROOT_KEY, and on Lambda the store must
    be PostgreSQL. On Lambda a credentials file is required too, because
    without one the development credential (``test``/``test``) would open
    the function to anyone who can reach its URL. Outside Lambda, for tests,
    the SQLite store and the development credential are accepted.
    """
    if not os.environ.get(ROOT_KEY_VARIABLE):
        raise LambdaConfigurationError(
            f"{ROOT_KEY_VARIABLE} is not set. The Lambda entry points read the "
            "root key (32 bytes, base64) from this variable only, never from a "
            "file, so pass it from a secret"
        )
    settings = Settings.from_environment()
    if not os.environ.get("KEYLEDGER_DATABASE_POOL_SIZE"):
        # A container serves one invocation at a time: one connection is enough,
        # and many containers share the database's connection limit.
        settings.database_pool_size = 1
    settings.database_pre_ping = True
    if settings.dev_clock:
        raise LambdaConfigurationError(
            f"{DEV_CLOCK_VARIABLE} is set, but the Lambda entry points do not "
            "support the dev clock. Unset it"
        )
    if settings.database_url is None and running_on_lambda():
        raise LambdaConfigurationError(
            f"{DATABASE_URL_VARIABLE} is not set: on Lambda the store must be "
            "PostgreSQL (postgresql://user:password@host:port/database), "
            "because an SQLite file in /tmp is lost with its container"
        )
    if settings.credentials_file is None and running_on_lambda():
        raise LambdaConfigurationError(
            f"{CREDENTIALS_FILE_VARIABLE} is not set: on Lambda the callers must "
            "be declared in a credentials file, so that the development "
            "credential test/test is not accepted"
        )
    return build_services(settings, clock)


class PerContainer(Generic[T]):
    """A value built from the container's Services on first use, then kept.

    Lambda sends a container one invocation at a time, so no lock guards the
    first build. ``check_environment``, if given, runs before the Services are
    built, so that its configuration error comes before the store is opened.
    """

    def __init__(
        self,
        build: Callable[[Services], T],
        check_environment: Callable[[], object] | None = None,
    ) -> None:
        self._build = build
        self._check_environment = check_environment
        self._clock: Clock | None = None
        self._built: tuple[Services, T] | None = None

    def get(self) -> T:
        """Return the value, building the Services and the value on first use."""
        if self._built is None:
            if running_on_lambda():
                # The runtime's own log format would drop the fields of the
                # structured log lines.
                configure_logging(os.environ.get(LOG_LEVEL_VARIABLE, "info"))
            if self._check_environment is not None:
                self._check_environment()
            services = build_lambda_services(self._clock)
            try:
                value = self._build(services)
            except BaseException:
                services.close()
                raise
            self._built = (services, value)
        return self._built[1]

    def reset(self, clock: Clock | None = None) -> None:
        """Close the Services and forget the value, so ``get`` builds both again.

        The next build reads the environment as it is then. Tests call this
        between cases, and pass ``clock`` to drive time in the next build.
        """
        built, self._built = self._built, None
        self._clock = clock
        if built is not None:
            built[0].close()
