"""Python client for downstream apps: resolve applications and prompts at run time.

```python
from harness.client import HarnessClient

client = HarnessClient("http://registry:8000", api_key="hk_...", cache_dir=".harness-cache")
app = client.resolve("support-bot", fallback={"model": "openai/gpt-4o-mini",
                                              "content": "You are a helpful assistant."})
messages = app.render(question="Where is my order?")
```

Values are cached in memory (and on disk with ``cache_dir``), revalidated with ETags and
refreshed when the registry announces a change (SSE stream or Pub/Sub), so activating a
prompt version reaches running apps within seconds, and an unreachable registry does not
take the app down. ``AsyncHarnessClient`` is the asyncio flavour.
"""

from ._async import AsyncHarnessClient, ClientStats
from ._sync import HarnessClient
from .errors import HarnessClientError, NotFound, Unauthorized, Unavailable
from .models import PromptVersion, Resolved
from .stream import (
    Connected,
    Disconnected,
    SSEEvent,
    SSEFollower,
    decode_pubsub_message,
    parse_sse,
)

__all__ = [
    "AsyncHarnessClient", "HarnessClient", "ClientStats",
    "HarnessClientError", "NotFound", "Unauthorized", "Unavailable",
    "PromptVersion", "Resolved",
    "Connected", "Disconnected", "SSEEvent", "SSEFollower", "decode_pubsub_message",
    "parse_sse",
]
