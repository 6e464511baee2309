"""A minimal downstream subscriber: print prompt activations as they happen.

By default it follows the registry's Server-Sent Events stream (resuming after a dropped
connection with Last-Event-ID). When GOOGLE_CLOUD_PROJECT or PUBSUB_EMULATOR_HOST is set
it pulls from its own subscription of the ``registry-events`` Pub/Sub topic instead
(needs ``pip install google-cloud-pubsub``).

    python examples/subscriber.py --url http://127.0.0.1:8000 [--api-key hk_...]
    GOOGLE_CLOUD_PROJECT=my-project python examples/subscriber.py [--subscription NAME]

The message format is documented in docs/events/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import uuid

import httpx

from harness.client import Connected, Disconnected, SSEFollower, decode_pubsub_message
from harness.logging import configure_logging

WATCHED = {"PromptVersionActivated"}


def show(envelope: dict) -> None:
    if envelope.get("type") not in WATCHED:
        return
    data = envelope.get("data", {})
    actor = (envelope.get("metadata") or {}).get("actor") or "?"
    print(f"[{envelope.get('global_position', '-')}] prompt {data.get('prompt_id')} "
          f"activated v{data.get('version')} (was v{data.get('previous_version')}) "
          f"by {actor}: {data.get('reason') or '-'}", flush=True)


async def follow_sse(url: str, api_key: str | None, after: int | None) -> None:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    async with httpx.AsyncClient(base_url=url, headers=headers) as http:
        follower = SSEFollower(http, after=after)
        async for frame in follower.frames():
            if isinstance(frame, Connected):
                print(f"connected to {url} (after={frame.after})", file=sys.stderr)
            elif isinstance(frame, Disconnected):
                print(f"disconnected: {frame.error}; retrying in {frame.retry_in_s:.1f}s",
                      file=sys.stderr)
            else:
                show(frame.envelope())


def follow_pubsub(project: str, subscription: str | None) -> None:
    from google.cloud import pubsub_v1

    from harness.bus.topics import topic_name

    prefix = os.environ.get("HARNESS_TOPIC_PREFIX", "harness-")
    subscriber = pubsub_v1.SubscriberClient()
    owned = None
    if subscription is None:  # a temporary subscription of our own
        owned = subscriber.subscription_path(
            project, f"{prefix}registry-events-example-{uuid.uuid4().hex[:8]}")
        subscriber.create_subscription(request={
            "name": owned, "ack_deadline_seconds": 10,
            "topic": f"projects/{project}/topics/{topic_name('registry-events', prefix)}"})
    path = owned or subscriber.subscription_path(project, subscription)

    def callback(message) -> None:
        show(decode_pubsub_message(message.data, dict(message.attributes)))
        message.ack()  # printing twice on a redelivery is harmless

    future = subscriber.subscribe(path, callback=callback)
    print(f"pulling from {path}", file=sys.stderr)
    try:
        future.result()
    except KeyboardInterrupt:
        future.cancel()
    finally:
        if owned is not None:
            with contextlib.suppress(Exception):
                subscriber.delete_subscription(request={"subscription": owned})
        subscriber.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="print prompt activations")
    parser.add_argument("--url", default=os.environ.get("HARNESS_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("HARNESS_API_KEY"))
    parser.add_argument("--after", type=int, default=None,
                        help="SSE: start after this global position (default: from now)")
    parser.add_argument("--subscription", default=None,
                        help="Pub/Sub: an existing subscription (default: a temporary one)")
    args = parser.parse_args()
    configure_logging("WARNING", json_logs=False)  # logs to stderr; stdout is the output
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if project or os.environ.get("PUBSUB_EMULATOR_HOST"):
        follow_pubsub(project or "harness-local", args.subscription)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(follow_sse(args.url, args.api_key, args.after))


if __name__ == "__main__":
    main()
