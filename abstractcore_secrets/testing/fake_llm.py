"""A fake LLM service on loopback that checks API keys: OpenAI's and Anthropic's HTTP APIs.

The real SDKs (openai, anthropic, AbstractCore's providers) talk to it over a real socket::

    with FakeLLMServer(keys=["sk-first"]) as llm:
        client = openai.OpenAI(api_key="sk-first", base_url=llm.base_url)
        client.chat.completions.create(model=llm.model, messages=[...])
        llm.accept("sk-second")  # rotation: the first key is now refused with 401

It serves ``GET /v1/models``, ``POST /v1/chat/completions`` (streamed or not) and
``POST /v1/embeddings`` with ``Authorization: Bearer <key>``, and Anthropic's
``POST /v1/messages`` with ``x-api-key: <key>``. A request whose key it does not accept gets
the service's 401. It records every request it saw, and can be told to answer something
else (an error, garbage) or to stall.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._http import QuietHandler, ServerContext, Serving, TrackingHTTPServer

__all__ = ["FakeLLMServer", "SeenRequest"]

_OPENAI_PATHS = {
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
}
_ANTHROPIC_PATHS = {("POST", "/v1/messages")}


@dataclass(frozen=True)
class SeenRequest:
    """One request the server received.

    Attributes:
        method: ``GET`` or ``POST``.
        path: The path, without the query.
        status: The status it was answered with.
        header: The credential header it carried (``authorization`` or ``x-api-key``), or
            ``None``.
        key: The key it carried (hidden from ``repr``, so a failing assert does not print it).
        body: The request body, parsed JSON, or ``None``.
    """

    method: str
    path: str
    status: int
    header: str | None
    key: str | None = field(repr=False)
    body: Any = field(default=None, repr=False)


@dataclass
class _Override:
    status: int
    body: bytes
    headers: dict[str, str]
    remaining: int | None
    before_auth: bool


_Answer = tuple[int, bytes, dict[str, str]]


class FakeLLMServer(ServerContext):
    """Serve OpenAI's and Anthropic's chat APIs on loopback until :meth:`stop`.

    Args:
        keys: The keys it accepts; change them at run time with :meth:`accept`.
        model: The one model it lists and answers as.
        reply: The text every completion answers.
        port: Port to listen on; default a free one. A restart keeps it, and the keys.

    Attributes:
        requests: Every request received, in order.
    """

    def __init__(
        self,
        keys: Iterable[str] = (),
        *,
        model: str = "gpt-4o-mini",
        reply: str = "pong",
        port: int | None = None,
    ) -> None:
        self.model = model
        self.reply = reply
        self.port = port or 0
        self.requests: list[SeenRequest] = []
        self._keys: tuple[str, ...] = tuple(keys)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._overrides: list[_Override] = []
        self._stall: tuple[float, int | None] = (0.0, None)
        self._serving: Serving | None = None

    @property
    def url(self) -> str:
        """Return ``http://127.0.0.1:PORT``: Anthropic's ``base_url``."""
        if not self.port:
            raise RuntimeError("start the server first: its port is chosen when it binds")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:PORT/v1``: OpenAI's ``base_url``."""
        return f"{self.url}/v1"

    def start(self) -> FakeLLMServer:
        """Bind the port and serve in a background thread; return the server."""
        if self._serving is not None:
            return self
        server = _Server(("127.0.0.1", self.port), self)
        self.port = server.server_port
        self._stopping.clear()
        self._serving = Serving(server, "fake-llm")
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; the port and the keys are kept."""
        serving, self._serving = self._serving, None
        if serving is None:
            return
        self._stopping.set()  # a stalled answer stops waiting
        serving.stop()

    @property
    def keys(self) -> tuple[str, ...]:
        """Return the keys it accepts now."""
        with self._lock:
            return self._keys

    def accept(self, *keys: str) -> None:
        """Accept only ``keys`` from now on (none: refuse every request), as after a rotation."""
        with self._lock:
            self._keys = keys

    def answer(
        self,
        status: int,
        body: bytes | str | Mapping[str, Any] = b"",
        *,
        headers: Mapping[str, str] | None = None,
        times: int | None = 1,
        before_auth: bool = False,
    ) -> None:
        """Answer the next requests with this instead of the service's answer.

        Args:
            status: The HTTP status.
            body: Raw bytes, text, or an object sent as JSON.
            headers: Extra response headers.
            times: How many requests; ``None`` until :meth:`reset`.
            before_auth: Answer even requests whose key is refused (a proxy in front);
                default only requests with an accepted key.
        """
        if isinstance(body, Mapping):
            data = json.dumps(body).encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body
        with self._lock:
            self._overrides.append(_Override(status, data, dict(headers or {}), times, before_auth))

    def stall(self, seconds: float, times: int | None = 1) -> None:
        """Wait ``seconds`` before answering the next requests whose key it accepts.

        Refusals are immediate, so a test can stall the retry that follows a 401.

        Args:
            seconds: The wait; a :meth:`stop` ends it.
            times: How many requests; ``None`` until :meth:`reset`.
        """
        with self._lock:
            self._stall = (seconds, times)

    def reset(self) -> None:
        """Forget the overrides, the stall and the requests seen; keep the keys."""
        with self._lock:
            self._overrides.clear()
            self._stall = (0.0, None)
            self.requests.clear()

    def statuses(self) -> list[int]:
        """Return the status of each request seen, in order."""
        with self._lock:
            return [seen.status for seen in self.requests]

    def _answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> _Answer:
        header, key = _credential(path, headers)
        accepted = key is not None and self._accepts(key)
        if accepted:
            self._stopping.wait(self._take_stall())
        parsed = _json(body)
        override = self._take_override(accepted=accepted)
        if override is not None:
            answer: _Answer = (override.status, override.body, override.headers)
        elif (method, path) not in _OPENAI_PATHS | _ANTHROPIC_PATHS:
            answer = _json_answer(404, _error("not_found", f"no route for {method} {path}"))
        elif not accepted:
            answer = self._refusal(path, key)
        else:
            answer = self._route(method, path, parsed)
        with self._lock:
            self.requests.append(SeenRequest(method, path, answer[0], header, key, parsed))
        return answer

    def _accepts(self, key: str) -> bool:
        with self._lock:
            keys = self._keys
        # Every accepted key is compared, so the time taken does not say which one matched.
        matches = [hmac.compare_digest(key.encode(), known.encode()) for known in keys]
        return any(matches)

    def _refusal(self, path: str, key: str | None) -> _Answer:
        # Worded like the services', which never quote the key back in full.
        if path == "/v1/messages":
            message = "invalid x-api-key" if key else "x-api-key header is required"
            error = {"type": "authentication_error", "message": message}
            return _json_answer(401, {"type": "error", "error": error})
        message = "Incorrect API key provided." if key else "You didn't provide an API key."
        return _json_answer(401, _error("invalid_api_key", message))

    def _route(self, method: str, path: str, body: Any) -> _Answer:  # noqa: ANN401 - parsed JSON
        if (method, path) == ("GET", "/v1/models"):
            listed = {"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}
            return _json_answer(200, {"object": "list", "data": [listed]})
        request = body if isinstance(body, dict) else {}
        if path == "/v1/messages":
            return _json_answer(200, self._message(request))
        if path == "/v1/embeddings":
            item = {"object": "embedding", "index": 0, "embedding": [0.0, 1.0]}
            usage = {"prompt_tokens": 1, "total_tokens": 1}
            return _json_answer(200, {"object": "list", "data": [item], "usage": usage})
        if request.get("stream") is True:
            return self._stream(request)
        return _json_answer(200, self._completion(request))

    def _completion(self, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _stream(self, request: dict[str, Any]) -> _Answer:
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
        }
        chunks = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
            {**base, "choices": [{"index": 0, "delta": {"content": self.reply}}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        ]
        lines = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
        return 200, "".join(lines).encode(), {"Content-Type": "text/event-stream"}

    def _message(self, request: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex}",
            "type": "message",
            "role": "assistant",
            "model": request.get("model") or self.model,
            "content": [{"type": "text", "text": self.reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }

    def _take_stall(self) -> float:
        with self._lock:
            seconds, remaining = self._stall
            if seconds <= 0 or remaining == 0:
                return 0.0
            if remaining is not None:
                self._stall = (seconds, remaining - 1)
            return seconds

    def _take_override(self, *, accepted: bool) -> _Override | None:
        with self._lock:
            for override in self._overrides:
                if accepted or override.before_auth:
                    if override.remaining is not None:
                        override.remaining -= 1
                        if override.remaining <= 0:
                            self._overrides.remove(override)
                    return override
        return None


def _credential(path: str, headers: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Return the credential header a request carries for its API, and the key in it."""
    if path == "/v1/messages":
        key = headers.get("x-api-key")
        return ("x-api-key", key) if key is not None else (None, None)
    authorization = headers.get("authorization")
    if authorization is None:
        return None, None
    scheme, _, key = authorization.partition(" ")
    return "authorization", key if scheme.lower() == "bearer" else None


def _json(body: bytes) -> Any:  # noqa: ANN401 - whatever the client sent
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None


def _error(code: str, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _json_answer(status: int, payload: dict[str, Any]) -> _Answer:
    return status, json.dumps(payload).encode(), {"Content-Type": "application/json"}


class _Server(TrackingHTTPServer):
    def __init__(self, address: tuple[str, int], fake: FakeLLMServer) -> None:
        self.fake = fake
        super().__init__(address, _Handler)


class _Handler(QuietHandler):
    server: _Server

    # http.server dispatches on these names.
    def do_GET(self) -> None:  # noqa: N802
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, data, extra = self.server.fake._answer(
            self.command, urlsplit(self.path).path, headers, body
        )
        self.send_response(status)
        for name, value in {
            "Content-Type": "application/json",
            **extra,
            "Content-Length": str(len(data)),
            "x-request-id": f"req_{uuid.uuid4().hex}",
        }.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
