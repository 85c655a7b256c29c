"""The ``abstractcore-secrets`` command."""
