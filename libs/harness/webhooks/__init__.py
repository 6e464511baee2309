"""Signed webhooks: how a delivery is signed and verified (``signing``, usable by any
receiver), and where the server may send one (``targets``: http(s) only, public addresses
plus the private networks it is told to allow)."""

from .signing import (
    DEFAULT_TOLERANCE_S,
    SIGNATURE_HEADER,
    InvalidSignature,
    sign,
    signature_header,
    verify,
)

__all__ = ["DEFAULT_TOLERANCE_S", "SIGNATURE_HEADER", "InvalidSignature", "sign",
           "signature_header", "verify"]
