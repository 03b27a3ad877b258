"""The HTTP face: protocol, SigV4, action handlers, Lambda entry points and CLI."""
