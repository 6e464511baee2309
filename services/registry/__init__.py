"""The registry service: the only writer of the event store."""
