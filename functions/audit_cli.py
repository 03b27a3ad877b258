"""``keyledger audit``: the auditor's commands over the audit trail.

Each command module registers its own subcommands; every subcommand takes
the same store flags as ``serve`` and may run while a server is running.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from functions import audit_export, audit_history, audit_query, audit_verify

if TYPE_CHECKING:
    from functions.services import Services

AddStoreArguments = Callable[[argparse.ArgumentParser], None]


def add_audit_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    add_store_arguments: AddStoreArguments,
) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="verify, query, replay and export the audit trail",
        description="Read the audit trail of a KeyLedger store. Each command "
        "takes the store flags of serve and may run while the server runs.",
    )
    commands = audit.add_subparsers(dest="audit_command", required=True)
    for module in (audit_verify, audit_query, audit_history, audit_export):
        module.register(commands, add_store_arguments)


def open_services(arguments: argparse.Namespace) -> Services:
    """Open the store that the command's flags (or environment) name."""
    from functions.audit_command import CommandError, require_store
    from functions.cli import settings_from
    from functions.services import build_services

    settings = settings_from(arguments)
    try:
        require_store(settings.data_dir, settings.database_url)
    except CommandError as error:
        print(f"keyledger audit: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    return build_services(settings, adopt_events=False)
