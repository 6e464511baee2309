"""Focused tests of the PII detectors, masking styles, policy and engines."""

from __future__ import annotations

import random
import re
import time

import pytest

from harness.pii import (
    KINDS,
    PROBLEM_TYPE,
    Finding,
    PIIBlocked,
    PresidioEngine,
    apply_policy,
    apply_policy_many,
    detect,
    mask,
    presidio_available,
)
from harness.pii.detectors import resolve_overlaps
from harness.pii.validators import (
    luhn_check_digit,
    luhn_valid,
    rrn_birth_date_valid,
    rrn_check_digit,
    rrn_checksum_valid,
)


def spans(text: str, kinds=None) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in detect(text, kinds)]


def only(text: str, kind: str, value: str) -> Finding:
    found = detect(text)
    assert [(f.kind, f.text) for f in found] == [(kind, value)], found
    f = found[0]
    assert text[f.start:f.end] == value
    return f


def rrn_with_check(first12: str) -> str:
    return first12[:6] + "-" + first12[6:] + rrn_check_digit(first12)


def rrn_without_check(first12: str) -> str:
    bad = (int(rrn_check_digit(first12)) + 3) % 10
    return first12[:6] + "-" + first12[6:] + str(bad)


def luhn_number(partial: str) -> str:
    return partial + luhn_check_digit(partial)


# --- phone ------------------------------------------------------------------------------

PHONES = [
    "010-1234-5678", "01012345678", "010 1234 5678", "+82 10-1234-5678", "+82-10-1234-5678",
    "+821012345678", "+82 (0)10-1234-5678", "010.1234.5678", "011-123-4567", "016-234-5678",
    "02-123-4567", "02-1234-5678", "031-123-4567", "051-1234-5678", "064-712-3456",
    "(02) 123-4567", "(031)123-4567", "0505-123-4567", "0507-1234-5678", "070-1234-5678",
    "07012345678", "080-123-4567", "+82 2-123-4567", "+82-31-123-4567", "0212345678",
]


@pytest.mark.parametrize("value", PHONES)
@pytest.mark.parametrize("sentence", ["연락처 {}로 연락 주세요", "Call {} now.", "{}"])
def test_phone_formats(value, sentence):
    only(sentence.format(value), "phone", value)


@pytest.mark.parametrize("text", [
    "2024-01-15", "2024.01.15", "15-01-2024", "02-12-2023", "주문번호 20240115123",
    "송장번호 12345678901", "0101234567890", "010-1234-56789", "1010-1234-5678",
    "SKU-010-1234-5678", "AB01012345678", "01012345678X", "1.02.123.4567", "버전 02.123.4567",
    "02.1234-5678", "대표번호 1588-1234", "010-1234", "0212-345-678", "사업자 123-45-67890",
    "0101234567", "ratio 0.0212345678",
])
def test_phone_near_misses(text):
    assert spans(text, "phone") == []


def test_two_phones_and_korean_particles():
    text = "010-4821-0093/02-735-1150으로, 핸드폰010-9123-4470이에요"
    assert spans(text) == [("phone", "010-4821-0093"), ("phone", "02-735-1150"),
                           ("phone", "010-9123-4470")]


def test_phone_confidence():
    assert detect("010-1234-5678")[0].confidence == "high"
    assert detect("0311234567")[0].confidence == "medium"  # unseparated landline


# --- email ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "hong@example.com", "first.last+tag@mail.example.co.kr", "HONG@EXAMPLE.COM",
    "user_1@sub-domain.example.io", "a@b.kr", "dev-team@startup.io",
])
def test_email(value):
    only(f"메일: {value}으로 보내 주세요", "email", value)
    only(f"<{value}>", "email", value)


@pytest.mark.parametrize("text", [
    "ssh root@localhost", "@minji_lee 님", "logo@2x.png", "a..b@example.com", "user@example",
    "name@domain.c", "@Override", "npm i @types/node", "user@@example.com", "jane.doe@",
])
def test_email_near_misses(text):
    assert spans(text, "email") == []


def test_email_that_contains_a_phone_is_one_email():
    assert spans("010-1234-5678@example.com") == [("email", "010-1234-5678@example.com")]


# --- resident registration number ---------------------------------------------------------

def test_rrn_checksum_algorithm():
    assert rrn_checksum_valid(rrn_with_check("900101123456").replace("-", ""))
    assert not rrn_checksum_valid(rrn_without_check("900101123456").replace("-", ""))
    # foreigners (7th digit 5-8): the check digit is shifted by 2
    first12 = "850315512345"
    citizen = int(rrn_check_digit(first12))
    assert rrn_checksum_valid(first12 + str((citizen + 2) % 10))


@pytest.mark.parametrize("first12", ["900101123456", "850315234567", "050607312345",
                                     "121212423456", "991231512345", "030303712345"])
def test_rrn_with_a_valid_check_digit_is_high(first12):
    value = rrn_with_check(first12)
    f = only(f"주민등록번호 {value} 확인", "rrn", value)
    assert f.validated and f.confidence == "high"


@pytest.mark.parametrize("first12", ["201015312345", "230101412345", "240229312345",
                                     "900101123456"])
def test_rrn_without_check_digit_is_still_found(first12):
    """Numbers issued since October 2020 carry no check digit: date + gender digit suffice."""
    value = rrn_without_check(first12)
    f = only(f"RRN {value}", "rrn", value)
    assert not f.validated and f.confidence == "medium"


@pytest.mark.parametrize("value", [
    "991332-1234567",  # month 13
    "950230-2234567",  # 30 February
    "010229-3234567",  # 2001 is not a leap year
    "000229-1234567",  # 1900 is not a leap year (digit 1 = 1900s)
    "850101-9234567",  # 1800s: nobody alive
    "850101-0234567",
    "240115-0123456",
])
def test_rrn_invalid_dates_and_gender_digits(value):
    assert spans(f"주민번호 {value}", "rrn") == []


def test_rrn_leap_day_2000_is_valid():
    assert rrn_birth_date_valid("0002293234567")
    assert not rrn_birth_date_valid("0002291234567")


def test_rrn_without_hyphen_needs_checksum_or_context():
    good = rrn_with_check("900101123456").replace("-", "")
    bad = rrn_without_check("900101123456").replace("-", "")
    assert spans(f"번호 {good}") == [("rrn", good)]  # check digit: enough on its own
    assert spans(f"바코드 {bad}") == []  # a bare 13-digit run
    assert spans(f"주민등록번호 {bad}") == [("rrn", bad)]  # context words


def test_rrn_precision_trade_off_is_visible_in_confidence():
    """A date-shaped code is reported (recall first), but only as an unvalidated medium."""
    [f] = detect("영수증 번호 240115-3123456")
    assert (f.kind, f.confidence, f.validated) == ("rrn", "medium", False)


def test_rrn_inside_longer_runs_is_not_found():
    value = rrn_with_check("900101123456")
    assert spans(f"1{value}", "rrn") == [] and spans(f"{value}8", "rrn") == []
    assert spans(f"12-{value}", "rrn") == []


# --- card -------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5555 5555 5555 4444",
    "2223 0031 2200 3222", "3782 822463 10005", "378282246310005", "3056 930902 5904",
    "3530111333300000", "6200 0000 0000 0005", "4222222222222",
])
def test_card(value):
    assert luhn_valid(value)
    f = only(f"카드번호 {value} 결제", "card", value)
    assert f.validated and f.confidence == "high"


def test_card_fails_luhn():
    assert spans("card 4111 1111 1111 1112") == []
    assert spans("card 4111111111111112") == []


def test_card_unknown_issuer():
    plain = luhn_number("1" + "234567890" + "12345")  # 16 digits, no issuer starts with 1
    assert spans(f"order {plain}") == []
    dashed = "-".join(plain[i:i + 4] for i in range(0, 16, 4))
    f = only(f"card {dashed}", "card", dashed)  # printed like a card: reported, medium
    assert f.confidence == "medium"


def test_bank_account_layout_is_not_a_card_even_when_luhn_passes():
    digits = luhn_number("100212345678")  # 13 digits
    value = f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"  # 우리은행 4-3-6
    assert spans(f"code {value}", "card") == []
    assert spans(f"우리은행 계좌 {value}") == [("account", value)]


def test_card_followed_by_another_number():
    text = "카드 4111 1111 1111 1111 2개"
    assert spans(text) == [("card", "4111 1111 1111 1111")]


def test_card_in_a_longer_dashed_code_is_not_found():
    assert spans("code 4111-1111-1111-1111-77") == []


# --- account ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("신한은행 110-123-456789 예금주 홍길동", "110-123-456789"),
    ("Please wire to account 1002-123-456789.", "1002-123-456789"),
    ("입금 계좌: 3333-01-1234567 (카카오뱅크)", "3333-01-1234567"),
    ("KB국민은행 123456-78-901234", "123456-78-901234"),
    ("농협 352-1234-5678-93 홍길동", "352-1234-5678-93"),
    ("계좌번호 110123456789 로 송금", "110123456789"),
])
def test_account_with_context(text, value):
    only(text, "account", value)


@pytest.mark.parametrize("text", [
    "모델 번호 110-123-456789 확인", "Ticket 1002-123-456789 closed",
    "계좌이체 주문번호 2024-0115-3321 확인",  # an order number named after the account word
    "입금 확인, 거래번호 20240115123456", "110123456789",
    "account created on 2024-01-15",
])
def test_account_near_misses(text):
    assert spans(text, "account") == []


def test_phone_next_to_an_account_word_stays_a_phone():
    assert spans("입금 후 010-2345-6789로 연락") == [("phone", "010-2345-6789")]
    assert spans("입금 후 010-2345-6789로 연락", "account") == []


# --- ip ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,value", [
    ("접속 IP 192.168.0.1에서", "192.168.0.1"), ("dns 8.8.8.8.", "8.8.8.8"),
    ("server 10.0.0.1:8080", "10.0.0.1"), ("allow 203.0.113.7/32", "203.0.113.7"),
    ("ssh admin@172.16.4.20", "172.16.4.20"), ("[2001:db8::1]:443", "2001:db8::1"),
    ("link fe80::1ff:fe23:4567:890a up", "fe80::1ff:fe23:4567:890a"),
    ("mapped ::ffff:192.0.2.1 here", "::ffff:192.0.2.1"),
    ("full 2001:db8:0:0:1:0:0:1", "2001:db8:0:0:1:0:0:1"),
])
def test_ip(text, value):
    f = only(text, "ip", value)
    assert f.validated


@pytest.mark.parametrize("text", [
    "section 1.2.3.4.5", "256.1.1.1", "999.10.10.10", "version 1.2.3.4", "버전 2.1.0.3 배포",
    "v1.2.3.4", "Chrome/120.0.0.0", "at 12:30:45", "MAC 00:1A:2B:3C:4D:5E", "x[::2]",
    "data[1::2]", "std::vector", "01.02.03.04", "192.168.1", "build 10.0.19045.3803",
])
def test_ip_near_misses(text):
    assert spans(text, "ip") == []


# --- passport / driver license --------------------------------------------------------------

def test_passport_needs_context():
    only("여권번호 M12345678 확인", "passport", "M12345678")
    only("Passport No. M123A4567", "passport", "M123A4567")
    assert spans("모델명 M12345678 출시") == []


def test_driver_license():
    only("운전면허번호 11-12-123456-12", "driver_license", "11-12-123456-12")
    only("면허번호: 서울 12-123456-12", "driver_license", "서울 12-123456-12")
    assert spans("문서번호 99-12-123456-12") == []


# --- detect: kinds, overlaps, robustness -----------------------------------------------------

MIXED = ("이름 김민지, 전화 010-1234-5678, 메일 minji@example.com, "
         "주민번호 900101-1234568, 카드 4111-1111-1111-1111, IP 192.168.0.10")


def test_detect_orders_by_position_and_filters_kinds():
    found = detect(MIXED)
    assert [f.kind for f in found] == ["phone", "email", "rrn", "card", "ip"]
    assert all(MIXED[f.start:f.end] == f.text for f in found)
    assert [f.kind for f in detect(MIXED, ["email", "ip"])] == ["email", "ip"]
    assert [f.kind for f in detect(MIXED, "card")] == ["card"]


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown PII kind.*ssn.*known: rrn"):
        detect("x", ["ssn"])


def test_empty_and_clean_text():
    assert detect("") == [] and detect("PII 없는 평범한 문장입니다. Nothing here.") == []


def test_overlap_resolution_is_deterministic():
    a = Finding("account", 0, 14, "900101-1234568")
    r = Finding("rrn", 0, 14, "900101-1234568")
    p = Finding("phone", 2, 10, "0101-123")
    e = Finding("email", 0, 20, "x" * 20)
    cands = [a, r, p]
    for _ in range(10):
        random.shuffle(cands)
        assert resolve_overlaps(cands) == [r]  # same span: the more specific kind
    assert resolve_overlaps([r, e, p]) == [e]  # longest wins


def test_no_catastrophic_backtracking_on_long_inputs():
    texts = ["1-" * 20000, "0" * 50000, "a@" * 20000 + "b", "1." * 20000, ":" * 30000,
             ("010-1234-5678 " * 2000)]
    # the guard is generous (backtracking would take hours, not seconds): a hang guard,
    # not a speed threshold; speed is measured in bench/
    t0 = time.perf_counter()
    for t in texts:
        detect(t)
    assert time.perf_counter() - t0 < 120
    assert len(detect("010-1234-5678 " * 2000)) == 2000


# --- masking ----------------------------------------------------------------------------

def test_mask_label():
    r = mask(MIXED)
    assert r.text == ("이름 김민지, 전화 [PHONE], 메일 [EMAIL], 주민번호 [RRN], "
                      "카드 [CARD], IP [IP]")
    assert r.counts == {"rrn": 1, "card": 1, "phone": 1, "email": 1, "ip": 1}
    assert r.changed and [f.kind for f in r.findings] == ["phone", "email", "rrn", "card", "ip"]
    assert detect(r.text) == []  # nothing left to find


def test_mask_labels_cover_every_kind():
    text = ("010-1234-5678 a@b.kr 900101-1234568 4111-1111-1111-1111 신한은행 110-123-456789 "
            "1.2.3.4 여권 M12345678 면허 11-12-123456-12")
    out = mask(text).text
    assert out == ("[PHONE] [EMAIL] [RRN] [CARD] 신한은행 [ACCOUNT] [IP] 여권 [PASSPORT] "
                   "면허 [DRIVER_LICENSE]")
    assert set(mask(text).counts) == set(KINDS)


def test_mask_partial():
    r = mask(MIXED, style="partial")
    assert r.text == ("이름 김민지, 전화 010-****-5678, 메일 m****@example.com, "
                      "주민번호 900101-1******, 카드 ****-****-****-1111, IP 192.168.*.*")
    assert mask("+82 10-1234-5678, 01012345678", style="partial").text == \
        "+82 10-****-5678, 010****5678"
    assert mask("신한은행 110-123-456789", style="partial").text == "신한은행 ***-***-**6789"
    assert mask("[2001:db8::1]", style="partial").text == "[2001:***::*]"


def test_mask_hash_is_stable_across_spellings_and_salted():
    r = mask("010-1234-5678 / +82 10-1234-5678 / 01012345678 / 010-9999-8888", style="hash")
    tokens = re.findall(r"\[PHONE:[0-9a-f]{8}\]", r.text)
    assert len(tokens) == 4 and len(set(tokens[:3])) == 1 and tokens[3] != tokens[0]
    assert mask("Hong@Example.com", style="hash").text == mask("hong@example.com",
                                                               style="hash").text
    salted = mask("010-1234-5678", style="hash", salt="s3cret").text
    assert salted != tokens[0] and salted == mask("010-1234-5678", style="hash",
                                                  salt=b"s3cret").text


def test_mask_without_findings_and_bad_style():
    r = mask("nothing to see")
    assert r.text == "nothing to see" and not r.changed and r.counts == {}
    with pytest.raises(ValueError, match="unknown mask style"):
        mask("010-1234-5678", style="redact")


def test_mask_only_selected_kinds():
    assert mask(MIXED, ["phone"]).text.startswith("이름 김민지, 전화 [PHONE], 메일 minji@")


def test_results_serialise_without_values_by_default():
    d = mask("010-1234-5678").as_dict()
    assert d["text"] == "[PHONE]" and "text" not in d["findings"][0]
    assert d["findings"][0] == {"kind": "phone", "start": 0, "end": 13, "confidence": "high",
                                "validated": True, "detector": "builtin"}


# --- policy -----------------------------------------------------------------------------

def test_policy_off_leaves_text_alone():
    r = apply_policy(MIXED, "off")
    assert r.text == MIXED and r.action == "none" and r.findings == []


def test_policy_mask():
    r = apply_policy(MIXED, "mask")
    assert r.action == "masked" and r.changed and "[RRN]" in r.text and r.counts["rrn"] == 1
    clean = apply_policy("hello", "mask")
    assert clean.action == "passed" and clean.text == "hello"


def test_policy_block_raises_with_the_kinds_and_no_values():
    with pytest.raises(PIIBlocked) as info:
        apply_policy("연락처 010-1234-5678, 010-2222-3333, a@b.kr", "block",
                     where="messages[0].content")
    err = info.value
    assert err.kinds == ["phone", "email"] and err.counts == {"phone": 2, "email": 1}
    body = err.problem()
    assert body["status"] == 422 and body["type"] == PROBLEM_TYPE
    assert body["kinds"] == ["phone", "email"] and body["where"] == "messages[0].content"
    assert "phone (2)" in body["detail"] and "email (1)" in body["detail"]
    assert "010-1234-5678" not in str(body) and "a@b.kr" not in str(body)


def test_policy_block_passes_clean_text_and_respects_kinds():
    assert apply_policy("clean text", "block").action == "passed"
    assert apply_policy("a@b.kr", "block", kinds=["phone"]).text == "a@b.kr"


def test_policy_many():
    out = apply_policy_many(["hi", "010-1234-5678"], "mask")
    assert [r.text for r in out] == ["hi", "[PHONE]"]
    with pytest.raises(PIIBlocked) as info:
        apply_policy_many(["a@b.kr", "hi", "900101-1234568"], "block")
    assert info.value.kinds == ["rrn", "email"]


def test_unknown_policy():
    with pytest.raises(ValueError, match="unknown PII policy"):
        apply_policy("x", "warn")


# --- engines ----------------------------------------------------------------------------

class _Result:
    def __init__(self, entity_type, start, end, score):
        self.entity_type, self.start, self.end, self.score = entity_type, start, end, score


class _Analyzer:
    """Stands in for presidio's AnalyzerEngine (a third-party component)."""

    def __init__(self, results):
        self.results = results
        self.calls = []

    def analyze(self, text, language, entities):
        self.calls.append((language, tuple(entities)))
        return [r for r in self.results if r.entity_type in entities]


def test_presidio_adapter_maps_entities_and_merges_builtin():
    text = "Mail a@b.kr, SSN 123-45-6789, call 010-1234-5678"
    analyzer = _Analyzer([_Result("EMAIL_ADDRESS", 5, 11, 1.0),
                          _Result("US_BANK_NUMBER", 17, 28, 0.6),
                          _Result("PHONE_NUMBER", 36, 49, 0.4),  # below min_score
                          _Result("PERSON", 0, 4, 0.9)])
    engine = PresidioEngine(analyzer)
    found = detect(text, engine=engine)
    assert [(f.kind, f.text, f.detector) for f in found] == [
        ("email", "a@b.kr", "builtin"), ("account", "123-45-6789", "presidio"),
        ("phone", "010-1234-5678", "builtin")]
    assert found[1].confidence == "medium"
    assert "PERSON" not in analyzer.calls[0][1]
    only_presidio = PresidioEngine(analyzer, combine_builtin=False)
    assert [f.kind for f in detect(text, engine=only_presidio)] == ["email", "account"]
    assert mask(text, ["account"], engine=only_presidio).text == \
        "Mail a@b.kr, SSN [ACCOUNT], call 010-1234-5678"


def test_presidio_engine_explains_what_is_missing(monkeypatch):
    import harness.pii.presidio as mod

    monkeypatch.setattr(mod, "presidio_available", lambda: False)
    with pytest.raises(ImportError, match="presidio-analyzer"):
        PresidioEngine()


@pytest.mark.skipif(not presidio_available(), reason="presidio-analyzer not installed")
def test_presidio_engine_with_the_real_analyzer():
    engine = PresidioEngine()
    found = detect("Contact john.doe@example.com or 010-1234-5678", engine=engine)
    assert {f.kind for f in found} >= {"email", "phone"}
