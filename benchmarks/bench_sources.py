"""Per-source resolution latency against real servers, and failover and recovery times.

Part 1, latency: uncached resolutions through ``SecretsManager`` (the full chain loop,
resilience middleware included) against OpenBao, moto's AWS server and the Key Vault
emulator, side by side with the bare SDK call each source makes (hvac, boto3, SecretClient)
and with the local sources. Median and p99 per candidate, and ours as a multiple of the
bare SDK call.

Part 2, faults (Vault behind a fault proxy, the config file as fallback):
- failover: a resolution while Vault refuses connections, with and without the circuit open;
- deadline: a resolution while Vault hangs, with ``timeout=0.5``;
- recovery: after Vault comes back, how long until a fresh Vault value is served, with
  ``reset_timeout=1`` and ``stale_retry=0.5``.

Run: ``python benchmarks/bench_sources.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _percentiles(call: Callable[[], object], runs: int) -> tuple[float, float]:
    call()  # warm: connection, TLS, auth challenge
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[min(len(samples) - 1, int(runs * 0.99))] * 1e3


def main() -> None:  # noqa: PLR0915 - a script: one story, top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    runs = 20 if parser.parse_args().quick else 500

    home = Path(tempfile.mkdtemp(prefix="bench-sources-"))
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "ABSTRACTCORE_HOME": str(home),
            "OPENAI_API_KEY": "sk-bench-env",
        }
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("stamina").setLevel(logging.ERROR)

    import boto3
    from azure.keyvault.secrets import SecretClient
    from moto.server import ThreadedMotoServer

    from abstractcore_secrets import (
        AWSSecretsProvider,
        AzureKeyVaultProvider,
        ConfigFileSecretProvider,
        EnvironmentSecretProvider,
        Resilience,
        ResolutionCache,
        RetryPolicy,
        SecretsManager,
        VaultSecretProvider,
    )
    from abstractcore_secrets.testing import (
        AzureKeyVaultEmulator,
        FaultProxy,
        OpenBaoServer,
        free_port,
    )

    config = home / "abstractcore.json"
    config.write_text(json.dumps({"api_keys": {"openai": "sk-bench-config"}}))
    config.chmod(0o600)
    moto_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    with OpenBaoServer() as bao, AzureKeyVaultEmulator() as azure:
        bao.put_kv("abstractcore", {"openai": "sk-bench-vault"})
        moto_url = f"http://127.0.0.1:{moto_port}"
        aws_client = boto3.client("secretsmanager", endpoint_url=moto_url)
        aws_client.create_secret(Name="abstractcore/openai", SecretString="sk-bench-aws")
        azure.set_secret("openai", "sk-bench-azure")

        vault = VaultSecretProvider(bao.address, bao.root_token)
        aws = AWSSecretsProvider(endpoint_url=moto_url)
        key_vault = AzureKeyVaultProvider(
            azure.vault_url, credential=azure.credential(), client_options=azure.client_options()
        )
        bare_azure = SecretClient(
            azure.vault_url, azure.credential(), retry_total=0, **azure.client_options()
        )

        def ours(source: object) -> Callable[[], object]:
            manager = SecretsManager(
                [source],
                cache=None,  # type: ignore[list-item]
                attempt_middleware=[Resilience()],
            )
            return lambda: manager.get_api_key("openai")

        candidates: dict[str, tuple[Callable[[], object], str | None]] = {
            "vault (ours)": (ours(vault), "vault (bare hvac read)"),
            "vault (bare hvac read)": (
                lambda: vault.client.secrets.kv.v2.read_secret_version(
                    path="abstractcore", mount_point="secret", raise_on_deleted_version=True
                ),
                None,
            ),
            "aws (ours)": (ours(aws), "aws (bare boto3 get_secret_value)"),
            "aws (bare boto3 get_secret_value)": (
                lambda: aws_client.get_secret_value(SecretId="abstractcore/openai"),
                None,
            ),
            "azure (ours)": (ours(key_vault), "azure (bare SecretClient.get_secret)"),
            "azure (bare SecretClient.get_secret)": (lambda: bare_azure.get_secret("openai"), None),
            "env (ours)": (ours(EnvironmentSecretProvider()), None),
            "config file (ours)": (ours(ConfigFileSecretProvider(config)), None),
        }
        results = {name: _percentiles(call, runs) for name, (call, _) in candidates.items()}
        print(f"Part 1: uncached resolution latency, {runs} runs each (ms)")
        print(f"{'candidate':40} {'median':>8} {'p99':>8} {'median / bare SDK':>18}")
        for name, (median, p99) in results.items():
            bare = candidates[name][1]
            ratio = f"{median / results[bare][0]:.2f}" if bare else "-"
            print(f"{name:40} {median:8.3f} {p99:8.3f} {ratio:>18}")

        print("\nPart 2: faults, Vault behind a proxy, config file as fallback (ms)")
        with FaultProxy(bao.address) as proxy:
            proxied = VaultSecretProvider(
                proxy.address, bao.root_token, timeout=0.5, connect_timeout=0.5
            )
            resilience = Resilience(RetryPolicy(), failure_threshold=3, reset_timeout=1.0)
            manager = SecretsManager(
                [proxied, ConfigFileSecretProvider(config)],
                cache=ResolutionCache(ttl=0.2, max_stale=60, stale_retry=0.5, negative_ttl=0),
                attempt_middleware=[resilience],
            )
            assert manager.resolve("openai").source == "vault"
            proxy.stop()
            time.sleep(0.25)
            failovers = []
            for _ in range(4):
                started = time.perf_counter()
                resolution = manager.resolve("openai")
                failovers.append((time.perf_counter() - started) * 1e3)
                manager.invalidate("openai")
            print(
                f"failover, Vault refusing connections, circuit closed (3 tries): "
                f"{failovers[0]:8.2f}  -> served by {resolution.source}"
            )
            print(
                f"failover, circuit open (Vault skipped):                       "
                f"{failovers[-1]:8.2f}"
            )
            proxy.start()
            came_back = time.perf_counter()
            while True:
                resolution = manager.resolve("openai")
                if resolution.source == "vault" and not resolution.stale:
                    break
                time.sleep(0.01)
            print(
                f"recovery, Vault back until a fresh Vault value (reset_timeout 1 s): "
                f"{(time.perf_counter() - came_back) * 1e3:8.1f}"
            )
            manager.invalidate()
            proxy.delay(30)
            started = time.perf_counter()
            resolution = manager.resolve("openai")
            print(
                f"deadline, Vault hanging, timeout 0.5 s, served by {resolution.source}: "
                f"{(time.perf_counter() - started) * 1e3:8.1f}"
            )
            proxy.clear()
            proxied.close()
        for closable in (vault, aws, key_vault, bare_azure):
            closable.close()
        aws_client.close()
    moto.stop()
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
