"""A workload for the observability stack: an application resolving keys through a real chain.

Run as a child process (OpenTelemetry's global providers are set once per process). Its
chain comes from the config file in ``$HOME`` that the test wrote (env, OpenBao, config file;
journal, pseudonymised principal), its telemetry from ``OTEL_*`` (to the collector). It
resolves each provider of its list every ``APP_PERIOD`` seconds and takes commands on stdin:

- ``add NAME`` / ``remove NAME``: change the list of providers;
- ``invalidate``: drop the cache, so that the next resolutions read their sources;
- ``quit``: print the counts of what it did as one JSON line on stdout, and exit (the
  journal is sealed and the exporters flushed at exit).
"""

from __future__ import annotations

import collections
import json
import logging
import os
import sys
import threading
import time

from abstractcore_secrets import build_secrets_manager
from abstractcore_secrets.audit import principal
from abstractcore_secrets.telemetry._setup import configure_telemetry


def main() -> None:
    """Resolve until told to quit; then report the counts."""
    telemetry = configure_telemetry(os.environ.get("OTEL_SERVICE_NAME", "e2e-workload"))
    manager = build_secrets_manager(telemetry=telemetry)
    providers = os.environ.get("APP_PROVIDERS", "openai").split(",")
    period = float(os.environ.get("APP_PERIOD", "0.05"))
    counts: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    done = threading.Event()
    # An SDK that logs a credential it uses: the library's record factory scrubs it, and
    # the redactions counter says so.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("hvac.adapters").warning(
        "request with X-Vault-Token %s", os.environ.get("VAULT_TOKEN", "")
    )

    def commands() -> None:
        for line in sys.stdin:
            verb, _, name = line.strip().partition(" ")
            with lock:
                if verb == "add" and name not in providers:
                    providers.append(name)
                elif verb == "remove" and name in providers:
                    providers.remove(name)
                elif verb == "invalidate":
                    manager.invalidate()
                elif verb == "quit":
                    break
        done.set()

    threading.Thread(target=commands, daemon=True).start()
    with principal("svc-billing"):
        while not done.is_set():
            with lock:
                batch = list(providers)
            for provider in batch:
                resolution = manager.resolve(provider)
                key = f"{provider}|{resolution.outcome.value}|{resolution.source or 'none'}"
                counts[key + ("|stale" if resolution.stale else "")] += 1
            time.sleep(period)
    print(json.dumps(dict(counts), sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
