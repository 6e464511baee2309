"""Reads of the read models, one module per area; routes call these and hold no SQL."""
