"""The KeyLedger model: keys, aliases, key states and the crypto service."""
