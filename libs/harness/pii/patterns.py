"""Compiled patterns and context words for the built-in detectors.

Numeric kinds share one boundary rule so that a match is never a slice of a longer
digit run, a dashed/dotted code or an alphanumeric token: the character before may not
be an ASCII letter, digit or ``_`` (nor a digit followed by ``.``/``-``, nor a letter
followed by ``-``), and the character after may not be an ASCII letter, digit or ``_``
(nor ``.``/``-`` followed by a digit). Korean text is deliberately *not* a boundary
problem: particles attach directly (``010-1234-5678로``).
"""

from __future__ import annotations

import re


def context_words(words: tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive pattern for a list of context words: Korean words match
    anywhere (particles attach to them), ASCII words only as whole words (optionally
    plural), so "server" does not contain "ver" and "border" does not contain "order"."""
    parts = []
    for w in sorted(words, key=len, reverse=True):
        if w.isascii():
            parts.append(r"(?<![a-z])" + re.escape(w) + r"s?(?![a-z])")
        else:
            parts.append(re.escape(w))
    return re.compile("|".join(parts), re.IGNORECASE)


NUM_START = r"(?<![0-9A-Za-z_])(?<![0-9A-Za-z_]-)(?<![0-9]\.)"
NUM_END = r"(?![0-9A-Za-z_])(?![-.][0-9])"

# --- phone ------------------------------------------------------------------------------
# National prefixes after the trunk "0": mobile 010/011/016-019, Seoul 02, regional area
# codes, 070 (VoIP), 0502-0508 (personal numbers), 080 (toll free).
_PREFIX = r"(?:1[016789]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50[2-8]|80)"
PHONE = re.compile(
    NUM_START
    + r"(?:"
    + r"(?P<intl>\+82[-. ]?(?:\(0\)[-. ]?)?0?)(?P<ip>" + _PREFIX + r")"
    + r"|\((?P<pp>0" + _PREFIX + r")\)"
    + r"|(?P<np>0" + _PREFIX + r")"
    + r")"
    + r"(?P<s1>[-. ]?)(?P<mid>\d{3,4})(?P<s2>[-. ]?)(?P<last>\d{4})"
    + NUM_END
)

# --- email ------------------------------------------------------------------------------
_LOCAL = r"[A-Za-z0-9_%+\-](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])"
    + _LOCAL
    + r"@(?:" + _LABEL + r"\.)+(?P<tld>[A-Za-z]{2,24}|xn--[A-Za-z0-9\-]{2,59})"
    + r"(?![A-Za-z0-9\-])(?!\.[A-Za-z0-9])"
)
#: "TLDs" that are really file extensions (``icon@2x.png``): never e-mail.
FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif",
                             "tiff", "heic", "avif", "webm", "mp4", "mov"})

# --- resident registration number ---------------------------------------------------------
RRN = re.compile(NUM_START + r"(?P<a>\d{6})(?P<sep>-| - | )?(?P<b>\d{7})" + NUM_END)
RRN_CONTEXT = context_words(("주민", "외국인등록", "rrn", "resident registration",
                             "resident id", "resident number", "생년월일"))

# --- card -------------------------------------------------------------------------------
# One separator style per number (all "-", all " " or none); groups are re-split and
# shortened in code when a trailing unrelated number was swallowed.
CARD = re.compile(
    NUM_START + r"(?P<body>\d{4}(?P<sep>[- ]?)\d{2,7}(?:(?P=sep)\d{1,7}){1,3})" + NUM_END
)

# --- account ----------------------------------------------------------------------------
ACCOUNT = re.compile(NUM_START + r"(?P<body>\d{3,7}(?:-\d{2,7}){1,3}|\d{10,14})" + NUM_END)
ACCOUNT_CONTEXT = context_words((
    "계좌", "입금", "송금", "이체", "예금주", "은행", "뱅크", "농협", "신한", "우체국",
    "새마을금고", "신협", "수협", "account", "acct", "a/c", "bank", "deposit", "wire",
    "transfer", "remit", "remittance", "iban"))
#: Labels of other identifiers. When one of these sits closer before the number than any
#: account word ("계좌이체, 주문번호 1203-4456-7781"), the number is that identifier.
OTHER_ID_CONTEXT = context_words((
    "주문", "송장", "운송장", "접수", "승인", "거래번호", "예약", "회원", "사업자", "고객번호",
    "모델", "시리얼", "일련", "문서", "order", "invoice", "tracking", "ticket", "ref", "reference",
    "serial", "model", "case", "sku", "item", "booking", "reservation", "confirmation"))

# --- ip ---------------------------------------------------------------------------------
IPV4 = re.compile(
    r"(?<![0-9A-Za-z_.])(?<![A-Za-z]/)(?P<body>\d{1,3}(?:\.\d{1,3}){3})(?![0-9A-Za-z_])(?!\.\d)"
)
IPV6 = re.compile(
    r"(?<![0-9A-Za-z_:.])"
    r"(?P<body>(?:[0-9A-Fa-f]{1,4}|:)?(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)\d{1,3}(?:\.\d{1,3}){3})?)"
    r"(?![0-9A-Za-z_:])(?!\.\d)"
)
#: A word right before a dotted number that makes it a version, not an address/phone.
VERSION_BEFORE = re.compile(
    r"(?:(?<![a-z])(?:version|ver|build|release|firmware|patch|sdk|rev|revision|v)\.?"
    r"|버전|빌드|릴리스|릴리즈|펌웨어|패치)\s*[:=]?\s*$",
    re.IGNORECASE,
)

# --- passport ---------------------------------------------------------------------------
PASSPORT = re.compile(
    r"(?<![0-9A-Za-z_])(?P<body>[MSRGDO][0-9]{8}|[MSRGDO][0-9]{3}[A-Z][0-9]{4})(?![0-9A-Za-z_])"
)
PASSPORT_CONTEXT = context_words(("여권", "passport"))

# --- driver license ---------------------------------------------------------------------
_REGIONS = "서울|부산|경기|강원|충북|충남|전북|전남|경북|경남|제주|대구|인천|광주|대전|울산"
DRIVER_LICENSE = re.compile(
    r"(?:" + NUM_START + r"(?:1[1-9]|2[0-8])-|(?<![가-힣])(?:" + _REGIONS + r")[ -]?)"
    + r"\d{2}-\d{6}-\d{2}" + NUM_END
)
