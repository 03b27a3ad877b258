"""The HTTP face of KeyLedger: protocol, SigV4, action handlers, Lambda entry points and the CLI."""
