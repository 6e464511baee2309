"""Checksums and structural checks used by the detectors (pure functions on strings)."""

from __future__ import annotations

import calendar

_RRN_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)

#: Gender/century digit (7th digit) → birth century. 1–4 are citizens, 5–8 registered
#: foreigners. 9/0 (born in the 1800s) are deliberately not accepted: nobody alive holds
#: one, and accepting them would only add false positives.
RRN_CENTURY = {"1": 1900, "2": 1900, "3": 2000, "4": 2000,
               "5": 1900, "6": 1900, "7": 2000, "8": 2000}


def digits_of(s: str) -> str:
    return "".join(ch for ch in s if "0" <= ch <= "9")


def luhn_valid(number: str) -> bool:
    """Luhn (mod 10) check over the digits of ``number`` (separators ignored)."""
    ds = digits_of(number)
    if not ds:
        return False
    total = 0
    for i, ch in enumerate(reversed(ds)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(partial: str) -> str:
    """The digit that makes ``partial + digit`` Luhn-valid."""
    for d in "0123456789":
        if luhn_valid(partial + d):
            return d
    raise AssertionError("unreachable")


def rrn_birth_date_valid(digits13: str) -> bool:
    """YYMMDD is a real calendar date in the century given by the 7th digit."""
    century = RRN_CENTURY.get(digits13[6])
    if century is None:
        return False
    year = century + int(digits13[0:2])
    month = int(digits13[2:4])
    day = int(digits13[4:6])
    if not 1 <= month <= 12:
        return False
    return 1 <= day <= calendar.monthrange(year, month)[1]


def _rrn_sum(digits13: str) -> int:
    return sum(int(digits13[i]) * w for i, w in enumerate(_RRN_WEIGHTS))


def rrn_checksum_valid(digits13: str) -> bool:
    """The pre-October-2020 check digit (foreigners' variant for gender digits 5–8)."""
    s = _rrn_sum(digits13)
    if digits13[6] in "5678":
        expected = ((11 - s % 11) % 10 + 2) % 10
        # Some foreign registration numbers were issued with the citizens' rule.
        return int(digits13[12]) in (expected, (11 - s % 11) % 10)
    return int(digits13[12]) == (11 - s % 11) % 10


def rrn_check_digit(first12: str) -> str:
    """Citizens' check digit for the first 12 digits (used by fixtures and tests)."""
    return str((11 - _rrn_sum(first12 + "0") % 11) % 10)


def ipv4_valid(s: str) -> bool:
    """Four decimal octets 0–255 without leading zeros ("010" is ambiguous: octal)."""
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or len(p) > 3 or not p.isdigit() or not p.isascii():
            return False
        if len(p) > 1 and p[0] == "0":
            return False
        if int(p) > 255:
            return False
    return True


#: Issuer identification number prefixes of the major schemes (and Korean domestic-only
#: cards, which start with 9). Used to raise confidence, and required for an unseparated
#: run of digits to count as a card.
def card_iin_known(digits: str) -> bool:
    n = len(digits)
    p2 = int(digits[:2])
    p3 = int(digits[:3])
    p4 = int(digits[:4])
    p6 = int(digits[:6])
    if digits[0] == "4":  # Visa
        return n in (13, 16, 19)
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:  # Mastercard
        return n == 16
    if p2 in (34, 37):  # American Express
        return n == 15
    if 3528 <= p4 <= 3589:  # JCB
        return 16 <= n <= 19
    if 300 <= p3 <= 305 or p2 in (36, 38, 39):  # Diners Club
        return 14 <= n <= 19
    if p4 == 6011 or p2 == 65 or 644 <= p3 <= 649 or 622126 <= p6 <= 622925:  # Discover
        return 16 <= n <= 19
    if p2 == 62 or p2 == 81:  # UnionPay
        return 16 <= n <= 19
    if p2 in (50, 56, 57, 58) or digits[0] == "6":  # Maestro and other debit
        return 12 <= n <= 19
    if digits[0] == "9":  # Korean domestic-only cards
        return n == 16
    return False
