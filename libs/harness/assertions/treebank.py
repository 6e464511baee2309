"""A Penn Treebank word tokenizer with the rules promptfoo's ROUGE scorer uses (the
js-rouge tokenizer): punctuation split off, common contractions and clitics separated,
straight double quotes turned into opening ``\u0060\u0060`` / closing ``''`` tokens.

Known gap: js-rouge's special case for a quote right after a Unicode modifier-letter
footnote marker is not reproduced (it only matters for text such as ``word.\u02b0"``)."""

from __future__ import annotations

import regex

_WORD_CHAR = r"[\p{ID_Continue}\u200c\u200d]"
_CONTRACTIONS = [
    regex.compile(rf"(?<!{_WORD_CHAR}){body}(?!{_WORD_CHAR})", regex.IGNORECASE | regex.V0)
    for body in (r"(can)(not)", r"(d)('ye)", r"(gim)(me)", r"(gon)(na)", r"(got)(ta)",
                 r"(lem)(me)", r"(more)('n)", r"(wan)(na)(?= )", r"('t)(is)", r"('t)(was)")
]
_QUOTES = regex.compile(r"``|''|\"")
_OPEN_CONTEXT = regex.compile(r"[\s\p{P}<]")
_BEFORE_OPEN = regex.compile(r"[\s\p{Ps}<]")
_WORDISH = regex.compile(r"^[\p{L}\p{N}\p{Sc}\p{Ps}]$")
_COLON_COMMA = regex.compile(r"[:,](?!\p{Nd})")
_FINAL_PERIOD = regex.compile(r"([^.])(?<!\b[A-Za-z]\.[A-Za-z])(\.)([\])}>'\s]*)$",
                              regex.ASCII)


def _char_at(text: str, index: int) -> str:
    return text[index] if 0 <= index < len(text) else ""


def _classify_quotes(text: str) -> str:
    inside = False
    out: list[str] = []
    last = 0
    for m in _QUOTES.finditer(text):
        quote, i = m.group(0), m.start()
        prev = _char_at(text, i - 1)
        opens_context = not inside and (
            i == 0 or bool(prev and _OPEN_CONTEXT.match(prev)) or text[max(0, i - 2):i] == "``")
        if quote == "``":
            inside = True
        else:
            inside = (
                (i + len(quote) < len(text) or i == 0
                 or bool(prev and _BEFORE_OPEN.match(prev)))
                and opens_context
                and not (prev and prev in ".!?")
                and (quote == '"' or (
                    i > 0 and bool(_WORDISH.match(_char_at(text, i + 2)))
                    and (_QUOTES.search(text, i + 2) or [None])[0] == "''")))
        out.append(text[last:i])
        out.append(" `` " if inside else " '' ")
        last = m.end()
    out.append(text[last:])
    return "".join(out)


def treebank_tokenize(text: str) -> list[str]:
    text = regex.sub(r"[\s\u0085]+", " ", text).strip()
    if not text:
        return []
    parse = _classify_quotes(text)
    parse = parse.replace("...", " ... ")
    parse = _COLON_COMMA.sub(r" \g<0> ", parse)
    parse = regex.sub(r"[;@#$%&]", r" \g<0> ", parse)
    parse = _FINAL_PERIOD.sub(r"\1 \2\3 ", parse)
    parse = regex.sub(r"[?!]", r" \g<0> ", parse)
    parse = regex.sub(r"[\][(){}<>]", r" \g<0> ", parse)
    parse = parse.replace("--", " -- ")
    parse = f" {parse} "
    parse = regex.sub(r"([^'])' ", r"\1 ' ", parse)
    parse = regex.sub(r"'([sSmMdD]) ", r" '\1 ", parse)
    parse = regex.sub(r"('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", r" \1 ", parse)
    for rule in _CONTRACTIONS:
        parse = rule.sub(r" \1 \2 ", parse)
    parse = regex.sub(r" {2,}", " ", parse)
    parse = regex.sub(r"^ | $", "", parse)
    return parse.split(" ")
