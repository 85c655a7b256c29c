"""Keys from the chain for the libraries that call LLM services, each in its own module.

- :mod:`.abstractcore`: ``install()``, after which AbstractCore's ``create_llm`` takes its
  keys from the chain.
- :mod:`.openai`: a callable ``api_key`` for the openai SDK, and ready-made clients.
- :mod:`.anthropic`: anthropic clients whose key comes from the chain.
- :mod:`.httpx`: ``SecretsAuth``, an ``httpx.Auth`` for any SDK that takes an httpx client.

Each applies the same rule to a request refused with 401: drop the cached key, resolve
again, retry once with a different key; the same key again means the 401 stands. Importing
this package imports none of those libraries; each module imports its own when imported.
"""

from __future__ import annotations

__all__: list[str] = []
