"""Real Prometheus and Alertmanager servers on loopback, and a webhook that receives alerts.

Prometheus takes remote writes (``--web.enable-remote-write-receiver``), evaluates the rule
files it is given, and sends alerts to an Alertmanager. Needs Debian's ``prometheus`` and
``prometheus-alertmanager`` packages (``apt-get install -y prometheus
prometheus-alertmanager``); the test script installs them.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._http import QuietHandler, ServerContext, TrackingHTTPServer
from ._process import ProcessServer
from .openbao import free_port


def _binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigurationError(f"no {name!r} on PATH; run: apt-get install -y {package}")
    return found


def _get_json(url: str, timeout: float = 10.0) -> Any:  # noqa: ANN401 - a JSON document
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback URL
        return json.loads(answer.read())


class _HTTPServerProcess(ProcessServer):
    """A Prometheus-family server on a loopback port, ready when ``/-/ready`` answers."""

    def __init__(self, binary: str, port: int | None) -> None:
        super().__init__(binary, prefix=f"{Path(binary).name}-")
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_url = f"{self.url}/-/ready"


class PrometheusServer(_HTTPServerProcess):
    """Run Prometheus with remote-write receiving, the given rule files and an Alertmanager.

    Args:
        rule_files: Rule files to evaluate, as they are: the test shortens intervals through
            ``evaluation_interval`` only, never through a second copy of the rules.
        alertmanager_url: Where alerts go, e.g. ``AlertmanagerServer.url``.
        evaluation_interval: Prometheus's global rule evaluation interval (``1s`` in tests;
            the production default is ``1m``).
        port: Default a free one.
    """

    def __init__(
        self,
        rule_files: Sequence[Path] = (),
        *,
        alertmanager_url: str | None = None,
        evaluation_interval: str = "1s",
        port: int | None = None,
    ) -> None:
        super().__init__(_binary("prometheus", "prometheus"), port)
        self.rule_files = [Path(path).resolve() for path in rule_files]
        self.alertmanager_url = alertmanager_url
        self.evaluation_interval = evaluation_interval
        self.remote_write_url = f"{self.url}/api/v1/write"

    def arguments(self) -> list[str]:
        """Write prometheus.yml and return the command line."""
        config: dict[str, Any] = {
            "global": {
                "evaluation_interval": self.evaluation_interval,
                "scrape_interval": "15s",
            },
            "rule_files": [str(path) for path in self.rule_files],
        }
        if self.alertmanager_url is not None:
            target = urllib.parse.urlsplit(self.alertmanager_url).netloc
            config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
        config_path = self.home / "prometheus.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return [
            self.binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=1d",
        ]

    def api(self, path: str, **parameters: str | Sequence[str]) -> Any:  # noqa: ANN401
        """Call ``/api/v1/<path>`` and return its ``data``; raise on an error answer."""
        query = urllib.parse.urlencode(parameters, doseq=True)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            answer = _get_json(url)
        except urllib.error.HTTPError as error:
            raise AssertionError(f"{path} {parameters}: {error.read().decode()}") from error
        if answer.get("status") != "success":
            raise AssertionError(f"{path} {parameters}: {answer}")
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate an instant query now; return its series (``metric`` and ``value``)."""
        data = self.api("query", query=expr)
        result = data["result"]
        return result if isinstance(result, list) else [{"metric": {}, "value": result}]

    def query_range(
        self, expr: str, start: float, end: float | None = None, step: float = 5.0
    ) -> list[dict[str, Any]]:
        """Evaluate ``expr`` from ``start`` to ``end`` (default now), as a graph panel does."""
        data = self.api(
            "query_range",
            query=expr,
            start=f"{start:.3f}",
            end=f"{end if end is not None else time.time():.3f}",
            step=f"{step}",
        )
        return list(data["result"])

    def alerts(self) -> list[dict[str, Any]]:
        """Return the alerts now pending or firing."""
        return list(self.api("alerts")["alerts"])

    def wait_for(
        self, condition: Callable[[], bool], timeout: float = 60.0, interval: float = 0.5
    ) -> bool:
        """Poll ``condition`` until true or ``timeout`` seconds; return its last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(interval)
        return condition()


class AlertmanagerServer(_HTTPServerProcess):
    """Run Alertmanager with a configuration file, its cluster listener off.

    Args:
        config_path: The alertmanager.yml to run (tests rewrite receiver URLs into a copy
            of the shipped file, keeping its routes, grouping and inhibitions).
        port: Default a free one.
    """

    def __init__(self, config_path: Path, *, port: int | None = None) -> None:
        super().__init__(_binary("prometheus-alertmanager", "prometheus-alertmanager"), port)
        self.config_path = Path(config_path)

    def arguments(self) -> list[str]:
        """Return the command line."""
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
        ]


class AlertWebhook(ServerContext):
    """An HTTP endpoint that records every Alertmanager notification POSTed to it.

    Args:
        port: Default a free one.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.notifications: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        self._server: _WebhookServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AlertWebhook:
        """Start serving in a thread."""
        self._server = _WebhookServer(("127.0.0.1", self.port), self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.cut_connections()
            self._server.server_close()
            self._server = None

    def alerts(self, path: str | None = None) -> list[dict[str, Any]]:
        """Return every alert received (at ``path`` only, if given), oldest first."""
        with self.lock:
            received = list(self.notifications)
        return [
            alert
            for where, body in received
            if path is None or where == path
            for alert in body.get("alerts", [])
        ]


class _WebhookServer(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], webhook: AlertWebhook) -> None:
        self.webhook = webhook
        super().__init__(address, _WebhookHandler)


class _WebhookHandler(QuietHandler):
    server: _WebhookServer

    def do_POST(self) -> None:  # noqa: N802 - http.server dispatches on this name
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with self.server.webhook.lock:
            self.server.webhook.notifications.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
