"""The registry's read side: ``projections`` (the read models, written in the append's
transaction and rebuilt from the events) and ``queries`` (the reads routes call; routes
hold no SQL)."""
