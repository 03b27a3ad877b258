"""One module per KMS action, each with a ``handle(services, caller, params)``."""
