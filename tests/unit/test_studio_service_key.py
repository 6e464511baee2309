"""The studio acts with HARNESS_API_KEY for every visitor only where visitors are vetted."""

import pytest

from harness.open_mode import studio_service_key


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_studio_uses_its_key(host):
    assert studio_service_key("hk_1", host, access=None, insecure=False) == "hk_1"


@pytest.mark.parametrize("access", [None, "", "public", "PUBLIC", "open", "iap-ish"])
def test_a_public_bind_never_hands_its_key_to_visitors(access):
    assert studio_service_key("hk_1", "0.0.0.0", access=access, insecure=False) is None


@pytest.mark.parametrize("access", ["iap", "private", "IAP"])
def test_behind_iap_or_private_ingress_the_key_is_used(access):
    assert studio_service_key("hk_1", "0.0.0.0", access=access, insecure=False) == "hk_1"


def test_insecure_is_the_explicit_opt_out():
    assert studio_service_key("hk_1", "0.0.0.0", access=None, insecure=True) == "hk_1"


def test_no_key_is_no_key():
    assert studio_service_key(None, "127.0.0.1", access="iap", insecure=True) is None
