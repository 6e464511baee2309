"""Webhook signatures and the outbound-address guard (issue 18 item 6), without I/O."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress

import pytest

from harness.webhooks import InvalidSignature, sign, signature_header, verify
from harness.webhooks.targets import (
    LOOPBACK,
    UnsafeTarget,
    address_allowed,
    check_url,
    parse_networks,
    resolve,
)

SECRET = "whsec_0123456789abcdef"
BODY = b'{"type":"PromptVersionActivated"}'


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == expected
    assert signature_header(SECRET, BODY, 1700000000) == f"t=1700000000,v1={expected}"


def test_verify_accepts_a_fresh_signature_and_returns_its_time():
    header = signature_header(SECRET, BODY, 1700000000)
    assert verify(SECRET, header, BODY, now=1700000100) == 1700000000


@pytest.mark.parametrize("case", ["other secret", "other body", "stale", "future", "garbled",
                                  "no digest"])
def test_verify_refuses(case):
    header = signature_header(SECRET, BODY, 1700000000)
    secret, body, now = SECRET, BODY, 1700000000.0
    if case == "other secret":
        secret = "whsec_another-secret-value"
    elif case == "other body":
        body = BODY + b" "
    elif case == "stale":
        now += 301
    elif case == "future":
        now -= 301
    elif case == "garbled":
        header = "v1=abc"
    elif case == "no digest":
        header = "t=1700000000"
    with pytest.raises(InvalidSignature):
        verify(secret, header, body, now=now)


def test_any_of_several_digests_may_match():
    good = signature_header(SECRET, BODY, 1700000000)
    header = f"t=1700000000,v1={'0' * 64},{good.split(',')[1]}"
    assert verify(SECRET, header, BODY, now=1700000000) == 1700000000


@pytest.mark.parametrize(("url", "why"), [
    ("ftp://example.com/x", "http and https"),
    ("file:///etc/passwd", "http and https"),
    ("gopher://example.com", "http and https"),
    ("https://", "no host"),
    ("https://user:pw@example.com/", "credentials"),
    ("https://example.com/#x", "fragment"),
    ("https://example.com:99999/", "not a URL"),
    ("https://example.com/" + "a" * 2048, "longer than"),
])
def test_check_url_refuses(url, why):
    with pytest.raises(UnsafeTarget, match=why):
        check_url(url)


def test_check_url_accepts_http_and_https():
    assert check_url("https://hooks.example.com/x?y=1").hostname == "hooks.example.com"
    assert check_url("http://127.0.0.1:8080/hook").port == 8080


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::",
])
def test_internal_addresses_are_refused_unless_allowed(address):
    ip = ipaddress.ip_address(address)
    assert not address_allowed(ip, ())
    assert address_allowed(ip, parse_networks("0.0.0.0/0, ::/0"))


def test_public_addresses_are_allowed_and_loopback_only_when_listed():
    assert address_allowed(ipaddress.ip_address("93.184.216.34"), ())
    assert address_allowed(ipaddress.ip_address("2606:2800:220:1::1"), ())
    assert address_allowed(ipaddress.ip_address("127.0.0.1"), LOOPBACK)
    assert address_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK)
    assert not address_allowed(ipaddress.ip_address("10.0.0.1"), LOOPBACK)
    assert parse_networks("10.0.0.0/8,127.0.0.1") == (ipaddress.ip_network("10.0.0.0/8"),
                                                      ipaddress.ip_network("127.0.0.1/32"))


def test_resolve_checks_literal_addresses_without_a_lookup():
    assert asyncio.run(resolve("127.0.0.1", 80, LOOPBACK)) == ["127.0.0.1"]
    assert asyncio.run(resolve("[::1]", 80, LOOPBACK)) == ["::1"]
    with pytest.raises(UnsafeTarget, match="169.254.169.254"):
        asyncio.run(resolve("169.254.169.254", 80, LOOPBACK))


def test_the_readme_receiver_snippet_verifies_a_delivery():
    from pathlib import Path
    from textwrap import dedent

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("## Webhooks"):]
    snippet = dedent(section[section.index("```python") + 9:section.index("  ```\n")])
    assert len(snippet.strip().splitlines()) == 5
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - our own README
    header = signature_header(SECRET, BODY)
    assert scope["verified"](SECRET, header, BODY)
    assert not scope["verified"](SECRET, header, BODY + b"x")
    assert not scope["verified"]("whsec_wrong-secret-value", header, BODY)
    assert not scope["verified"](SECRET, signature_header(SECRET, BODY, 1), BODY)
