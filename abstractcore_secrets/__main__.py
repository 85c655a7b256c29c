"""``python -m abstractcore_secrets``: the CLI."""

from __future__ import annotations

from .cli.main import main

main()
