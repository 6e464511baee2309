"""The Porter stemmer as promptfoo's METEOR uses it (the `natural` package's variant).

That variant differs from the textbook algorithm in small ways that change METEOR
scores, so it is reproduced rule for rule: in steps 2 and 3 every listed suffix whose
removal leaves a measure > 0 is replaced in turn (not only the longest), the measure
counts ``y`` after a consonant as a vowel group, and words shorter than 3 letters are
left alone."""

from __future__ import annotations

import re
from collections.abc import Callable

_STEP2 = [("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"),
          ("izer", "ize"), ("abli", "able"), ("bli", "ble"), ("alli", "al"), ("entli", "ent"),
          ("eli", "e"), ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"),
          ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"),
          ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
          ("logi", "log")]
_STEP3 = [("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"),
          ("ful", ""), ("ness", "")]
_STEP4_SUFFIX = re.compile(
    r"^(.+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)$")
_STEP4_ION = re.compile(r"^(.+?)(s|t)(ion)$")


def _groups(token: str) -> str:
    t = re.sub(r"[^aeiouy]+y", "CV", token)
    t = re.sub(r"[aeiou]+", "V", t)
    return re.sub(r"[^V]+", "C", t)


def _chars(token: str) -> str:
    t = re.sub(r"[^aeiouy]y", "CV", token)
    t = re.sub(r"[aeiou]", "V", t)
    return re.sub(r"[^V]", "C", t)


def _measure(token: str | None) -> float:
    if not token:
        return -1
    return len(re.sub(r"V$", "", re.sub(r"^C", "", _groups(token)))) / 2


def _replace_suffix(token: str, suffix: str, replacement: str) -> str | None:
    return token[: len(token) - len(suffix)] + replacement if token.endswith(suffix) else None


def _replace_all(token: str, rules: list[tuple[str, str]], threshold: float | None) -> str:
    out = token
    for suffix, replacement in rules:
        if threshold is None or _measure(_replace_suffix(token, suffix, "")) > threshold:
            out = _replace_suffix(out, suffix, replacement) or out
    return out or token


def _step1a(token: str) -> str:
    m = re.search(r"(ss|i)es$", token)
    if m:
        return token[: m.start()] + m.group(1)
    if token.endswith("s") and token[-2:-1] != "s" and len(token) > 2:
        return token[:-1]
    return token


def _step1b_rest(stem: str) -> str | None:
    if "V" not in _groups(stem):
        return None
    result = _replace_all(stem, [("at", "ate"), ("bl", "ble"), ("iz", "ize")], None)
    if result != stem:
        return result
    if re.search(r"([^aeiou])\1$", stem) and re.search(r"[^lsz]$", stem):
        return stem[:-1]
    if _measure(stem) == 1 and _chars(stem)[-3:] == "CVC" and re.search(r"[^wxy]$", stem):
        return stem + "e"
    return stem


def _step1b(token: str) -> str:
    if token.endswith("eed"):
        if _measure(token[:-3]) > 0:
            return token[:-3] + "ee"
        return token
    m = re.search(r"(ed|ing)$", token)
    if m:
        stem = token[: m.start()]
        if stem:
            result = _step1b_rest(stem)
            if result:
                return result
    return token


def _step1c(token: str) -> str:
    if token.endswith("y") and "V" in _groups(token)[:-1]:
        return token[:-1] + "i"
    return token


def _regex_stem(token: str, rx: re.Pattern[str], parts: tuple[int, ...]) -> str | None:
    m = rx.search(token)
    result = "".join(m.group(i) for i in parts) if m else ""
    return result if _measure(result) > 1 else None


def _step4(token: str) -> str:
    return (_regex_stem(token, _STEP4_SUFFIX, (1,)) or _regex_stem(token, _STEP4_ION, (1, 2))
            or token)


def _js_substr(text: str, start: int, length: int) -> str:
    begin = max(len(text) + start, 0) if start < 0 else start
    return text[begin:begin + length]


def _step5a(token: str) -> str:
    m = _measure(re.sub(r"e$", "", token))
    cvc = _js_substr(_chars(token), -4, 3) == "CVC" and re.search(r"[^wxy].$", token)
    if m > 1 or (m == 1 and not cvc):
        return re.sub(r"e$", "", token)
    return token


def _step5b(token: str) -> str:
    return re.sub(r"ll$", "l", token) if _measure(token) > 1 else token


_STEPS: list[Callable[[str], str]] = [
    _step1a, _step1b, _step1c, lambda t: _replace_all(t, _STEP2, 0),
    lambda t: _replace_all(t, _STEP3, 0), _step4, _step5a, _step5b,
]


def stem(word: str) -> str:
    if len(word) < 3:
        return word
    token = word.lower()
    for step in _STEPS:
        token = step(token)
    return token
