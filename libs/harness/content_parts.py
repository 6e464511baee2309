"""Chat message content as a list of parts, as in the OpenAI chat API.

A message's ``content`` is a text, or a list of parts::

    {"type": "text", "text": "Describe {{ subject }}"}
    {"type": "image_url", "image_url": {"url": "https://img.example/{{ id }}.png",
                                        "detail": "high"}}       # detail: auto | low | high
    {"type": "input_audio", "input_audio": {"data": "<base64>", "format": "wav"}}
    {"type": "file", "file": {"file_id": "file-abc"}}             # or file_data + filename

Templates live in text parts and image URLs, and in audio data and a file's data or id
(as one variable, e.g. ``"data": "{{ audio }}"``, filled from a case); see
:func:`template_slots`. This module is pure: shapes (:func:`check_parts`), the places
templates live, the text an ``echo`` model or a PII policy reads, a readable text form for
diffs, and the form stored in traces and results, where inline binary data (data URLs,
base64 audio and files) is replaced by a placeholder with its size and a hash
(:func:`omit_binary`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

PART_TYPES: tuple[str, ...] = ("text", "image_url", "input_audio", "file")
"""The part types a prompt version may hold."""

MEDIA_ROLES: frozenset[str] = frozenset({"user"})
"""Roles whose messages may carry image, audio and file parts (as in the OpenAI API)."""

IMAGE_DETAILS: tuple[str, ...] = ("auto", "low", "high")
_FORMAT = re.compile(r"^[A-Za-z0-9.+/-]{1,40}$")
_FILE_FIELDS = ("file_id", "file_data", "filename", "format")
_FIELDS = {"text": {"type", "text"}, "image_url": {"type", "image_url"},
           "input_audio": {"type", "input_audio"}, "file": {"type", "file"}}


class PartError(ValueError):
    """A malformed part; ``where`` names it (``messages[0].content[2].image_url.url``)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def is_parts(content: Any) -> bool:
    return isinstance(content, list)


def _string(value: Any, where: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise PartError(where, "must be a string")
    if not empty and not value:
        raise PartError(where, "must not be empty")
    return value


def _object(value: Any, where: str, allowed: set[str] | tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PartError(where, "must be an object")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise PartError(f"{where}.{unknown[0]}", "unknown field")
    return value


def check_part(part: Any, where: str) -> None:
    """Raise :class:`PartError` unless ``part`` is one of :data:`PART_TYPES` in its
    OpenAI shape (no other fields)."""
    if not isinstance(part, dict):
        raise PartError(where, "a part must be an object with a 'type'")
    kind = part.get("type")
    if kind not in _FIELDS:
        raise PartError(f"{where}.type", f"unknown part type {kind!r}; use one of "
                                         + ", ".join(PART_TYPES))
    _object(part, where, _FIELDS[kind])
    if kind not in part:
        raise PartError(f"{where}.{kind}", f"a {kind!r} part needs {kind!r}")
    body = part[kind]
    if kind == "text":
        _string(body, f"{where}.text")
    elif kind == "image_url":
        image = _object(body, f"{where}.image_url", ("url", "detail"))
        _string(image.get("url"), f"{where}.image_url.url", empty=False)
        detail = image.get("detail")
        if detail is not None and detail not in IMAGE_DETAILS:
            raise PartError(f"{where}.image_url.detail",
                            f"use one of {', '.join(IMAGE_DETAILS)}")
    elif kind == "input_audio":
        audio = _object(body, f"{where}.input_audio", ("data", "format"))
        _string(audio.get("data"), f"{where}.input_audio.data", empty=False)
        fmt = _string(audio.get("format"), f"{where}.input_audio.format", empty=False)
        if not _FORMAT.match(fmt):
            raise PartError(f"{where}.input_audio.format", "an audio format such as wav or mp3")
    else:
        file = _object(body, f"{where}.file", _FILE_FIELDS)
        for name in _FILE_FIELDS:
            if name in file:
                _string(file[name], f"{where}.file.{name}", empty=False)
        if "file_id" not in file and "file_data" not in file:
            raise PartError(f"{where}.file", "a file part needs 'file_id' or 'file_data'")


def check_parts(parts: Any, where: str, role: str | None = None) -> None:
    """Raise :class:`PartError` unless ``parts`` is a non-empty list of parts; image,
    audio and file parts only in :data:`MEDIA_ROLES` messages when ``role`` is given."""
    if not isinstance(parts, list) or not parts:
        raise PartError(where, "a text or a non-empty list of parts")
    for j, part in enumerate(parts):
        check_part(part, f"{where}[{j}]")
        if role is not None and part["type"] != "text" and role not in MEDIA_ROLES:
            raise PartError(f"{where}[{j}]", f"{part['type']} parts belong in user "
                                             f"messages, not in a {role} message")


# ---------------------------------------------------------------------- templates
# Where templates live besides text parts' text: (part type, field) of the strings that
# may name variables: an image's URL, and audio or a file given as one variable (a
# dataset of recordings), e.g. {"input_audio": {"data": "{{ audio }}", "format": "wav"}}.
_SLOTS: dict[str, tuple[str, ...]] = {"image_url": ("url",), "input_audio": ("data",),
                                      "file": ("file_data", "file_id")}


def template_slots(parts: list[Any], where: str) -> list[tuple[str, str]]:
    """``(where, template)`` of every templated string of the parts: text parts' text,
    image URLs, audio data and a file's data or id (a string without ``{`` holds no
    template and is left out: base64 never does)."""
    out: list[tuple[str, str]] = []
    for j, part in enumerate(parts):
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("text"), str):
            out.append((f"{where}[{j}].text", part["text"]))
        elif kind in _SLOTS and isinstance(part.get(kind), dict):
            for name in _SLOTS[kind]:
                value = part[kind].get(name)
                if isinstance(value, str) and "{" in value:
                    out.append((f"{where}[{j}].{kind}.{name}", value))
    return out


_ONE_VARIABLE = re.compile(r"^\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}$")


def render_parts(parts: list[dict[str, Any]], where: str,
                 render: Callable[[str, str], str],
                 bindings: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts with their templates rendered by ``render(template, where)``. A URL or
    data that is exactly one variable (``{{ image }}``) takes the variable's text as is: a
    data URL or base64 of any size is a value, not template output."""
    out: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        kind = part.get("type")
        if kind == "text":
            part = {**part, "text": render(part["text"], f"{where}[{j}].text")}
        elif kind in _SLOTS and isinstance(part.get(kind), dict):
            body = dict(part[kind])
            for name in _SLOTS[kind]:
                value = body.get(name)
                if isinstance(value, str) and "{" in value:
                    one = _ONE_VARIABLE.match(value.strip())
                    bound = bindings.get(one.group(1)) if one else None
                    body[name] = bound if isinstance(bound, str) else render(
                        value, f"{where}[{j}].{kind}.{name}")
            part = {**part, kind: body}
        out.append(part)
    return out


# ---------------------------------------------------------------------- reading
def text_of(parts: list[Any]) -> str:
    """The text parts joined with newlines (what the ``echo`` model answers with)."""
    return "\n".join(str(p.get("text", "")) for p in parts
                     if isinstance(p, dict) and p.get("type") == "text")


def _fingerprint(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _describe_data(data: str) -> str:
    return f"<{len(data)} characters omitted, sha256 {_fingerprint(data)}>"


def _short_url(url: str) -> str:
    """A data URL as ``data:<type>;base64,<N characters omitted, sha256 ...>``."""
    if url.startswith("data:") and "," in url:
        head, data = url.split(",", 1)
        return f"{head},{_describe_data(data)}"
    return url


def omit_binary_part(part: Any) -> Any:
    """The part as stored in traces and results: inline data (a data URL, audio, a file's
    data) replaced by a placeholder saying its size and hash; URLs and ids are kept."""
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    body = part.get(kind) if isinstance(kind, str) else None
    if kind == "image_url" and isinstance(body, dict) and isinstance(body.get("url"), str):
        return {**part, "image_url": {**body, "url": _short_url(body["url"])}}
    if kind == "input_audio" and isinstance(body, dict) and isinstance(body.get("data"), str):
        return {**part, "input_audio": {**body, "data": _describe_data(body["data"])}}
    if kind == "file" and isinstance(body, dict) and isinstance(body.get("file_data"), str):
        return {**part, "file": {**body, "file_data": _short_url(body["file_data"])}}
    return part


def omit_binary(messages: Any) -> Any:
    """Chat messages (or a text) with :func:`omit_binary_part` applied to every part."""
    if not isinstance(messages, list):
        return messages
    out = []
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            m = {**m, "content": [omit_binary_part(p) for p in m["content"]]}
        out.append(m)
    return out


_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_LONG_BASE64 = 1024


def omit_data_urls(value: Any) -> Any:
    """A JSON value (e.g. the variables a prompt was rendered with) with every data URL,
    and every base64 text of 1,024 characters or more (audio, a file), replaced by its
    placeholder."""
    if isinstance(value, str):
        if value.startswith("data:"):
            return _short_url(value)
        if len(value) >= _LONG_BASE64 and _BASE64.fullmatch(value):
            return _describe_data(value)
        return value
    if isinstance(value, list):
        return [omit_data_urls(v) for v in value]
    if isinstance(value, dict):
        return {k: omit_data_urls(v) for k, v in value.items()}
    return value


def readable(parts: list[Any]) -> str:
    """Parts as lines for diffs and displays: text as is, media as one ``[kind ...]`` line
    (inline data by size and hash, so changing an image shows in a diff)."""
    lines: list[str] = []
    for p in parts:
        if not isinstance(p, dict):
            lines.append(str(p))
            continue
        kind = p.get("type")
        body = p.get(kind) if isinstance(kind, str) else None
        body = body if isinstance(body, dict) else {}
        if kind == "text":
            lines.append(str(p.get("text", "")))
        elif kind == "image_url":
            detail = f" detail={body['detail']}" if body.get("detail") else ""
            lines.append(f"[image{detail}] {_short_url(str(body.get('url', '')))}")
        elif kind == "input_audio":
            lines.append(f"[audio {body.get('format', '?')}] "
                         f"{_describe_data(str(body.get('data', '')))}")
        elif kind == "file":
            named = " ".join(f"{k}={body[k]}" for k in ("file_id", "filename", "format")
                             if body.get(k))
            data = body.get("file_data")
            lines.append(f"[file {named}]".replace(" ]", "]")
                         + (f" {_short_url(str(data))}" if data else ""))
        else:
            lines.append(f"[{kind}]")
    return "\n".join(lines)


def string_bytes(value: Any) -> int:
    """UTF-8 bytes of every string in a JSON value (the size a part weighs)."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, list):
        return sum(string_bytes(v) for v in value)
    if isinstance(value, dict):
        return sum(string_bytes(v) for v in value.values())
    return 0
