"""Delivery of signed webhooks, from the event store, never from a request.

- :mod:`.fanout`: a checkpointed subscription to the event store (like the outbox relay)
  records one delivery per subscription that wants an event (``webhook_deliveries``;
  recording it again is a no-op, so a replay after a crash or restart skips nothing and
  repeats nothing).
- :mod:`.deliverer`: posts due deliveries, oldest first within each subscription and
  stream, signs them (:mod:`harness.webhooks.signing`), retries with exponential backoff
  and disables a subscription after too many failures in a row.
- :mod:`.sender`: one HTTP POST to a checked address (:mod:`harness.webhooks.targets`).
- :mod:`.store`: the tables beside the events (secrets, health, deliveries, attempts).

Both loops run in the registry process (``Runtime.start_background``).
"""
