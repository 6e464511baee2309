"""The push endpoint (``POST /pubsub/push``) as Pub/Sub on Cloud Run calls it: ack/nack
statuses, malformed bodies, duplicates, and OIDC verification against certificates served
from loopback and tokens signed with a locally generated RSA key.

Pub/Sub acks only on 102/200/201/202/204; every other status (4xx too) is a nack, so a
poison message is redelivered until the dead-letter policy moves it (see push.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import threading
import time
import uuid

import httpx
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from google.auth import crypt, jwt

from harness.bus import idempotent
from harness.bus.oidc import PushTokenVerifier
from harness.bus.push import PushOutcome, decode_push, handle_push, push_router
from harness.bus.wire import Duplicate, PoisonMessage
from harness.config import Settings
from harness.events import StoredEvent

AUDIENCE = "https://runner-abc.a.run.app/pubsub/push"
SA = "pubsub-push@harness-test.iam.gserviceaccount.com"
SUBSCRIPTION = "projects/harness-test/subscriptions/harness-runs-runner"


# ------------------------------------------------------------------------------ helpers


def envelope(**over):
    env = {"event_id": str(uuid.uuid4()), "stream_id": "run-1", "stream_version": 1,
           "type": "RunRequested", "schema_version": 1, "data": {"run_id": "1"},
           "metadata": {"actor": "u", "correlation_id": "corr-1"},
           "recorded_at": "2025-01-02T03:04:05.123456+00:00", "global_position": 7}
    env.update(over)
    return env


def push_body(env=None, *, data: bytes | None = None, attempt: int | None = 1, **msg_over):
    raw = data if data is not None else orjson.dumps(env if env is not None else envelope())
    message = {"data": base64.b64encode(raw).decode(), "messageId": "1234",
               "message_id": "1234", "publishTime": "2025-01-02T03:04:06.5Z",
               "attributes": {"type": "RunRequested"}, "orderingKey": "run-1"}
    message.update(msg_over)
    body = {"message": message, "subscription": SUBSCRIPTION}
    if attempt is not None:
        body["deliveryAttempt"] = attempt
    return body


class Recorder:
    def __init__(self, fail: BaseException | None = None):
        self.events: list[StoredEvent] = []
        self.fail = fail

    async def __call__(self, ev: StoredEvent) -> None:
        self.events.append(ev)
        if self.fail is not None:
            raise self.fail


def client_for(handler, verifier=None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(push_router(handler, verifier))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc")


# --------------------------------------------------------------------- decoding, status


def test_decode_push_fields():
    env = envelope()
    msg = decode_push(push_body(env, attempt=3))
    assert msg.message_id == "1234"
    assert msg.subscription == SUBSCRIPTION
    assert msg.delivery_attempt == 3
    assert msg.ordering_key == "run-1"
    assert msg.attributes == {"type": "RunRequested"}
    assert msg.publish_time == dt.datetime(2025, 1, 2, 3, 4, 6, 500000, tzinfo=dt.UTC)
    assert msg.envelope == env and msg.stored
    ev = msg.event
    assert str(ev.event_id) == env["event_id"] and ev.global_position == 7
    assert ev.type == "RunRequested" and ev.data == {"run_id": "1"}
    assert ev.metadata.correlation_id == "corr-1"
    # snake_case keys (as some tools send) work too; no dead-letter policy → no attempt
    body = push_body(env, attempt=None)
    body["message"] = {"data": body["message"]["data"], "message_id": "9"}
    msg = decode_push(body)
    assert msg.message_id == "9" and msg.delivery_attempt is None


def test_decode_proposed_result_envelope():
    env = {"event_id": str(uuid.uuid4()), "stream_id": "run-1", "type": "CaseResultRecorded",
           "schema_version": 1, "data": {"run_id": "1", "result": {}}, "metadata": {}}
    msg = decode_push(push_body(env))
    assert not msg.stored
    assert msg.event.global_position == 0 and msg.event.stream_version == 0
    assert msg.event.recorded_at == msg.publish_time


@pytest.mark.parametrize("body, where", [
    ({}, "no 'message'"),
    ({"message": "x"}, "no 'message'"),
    ({"message": {"data": "e30="}}, "no messageId"),
    ({"message": {"messageId": "1"}}, "no base64 'data'"),
    ({"message": {"messageId": "1", "data": "%%%"}}, "not valid base64"),
    (push_body(data=b"\xff not json"), "not JSON"),
    (push_body(data=b"[1, 2]"), "must be a JSON object"),
    (push_body(envelope(event_id=None)), "misses event_id"),
    (push_body(envelope(type=None, data=None)), "misses type, data"),
    (push_body(envelope(event_id="not-a-uuid")), "event_id"),
    (push_body(envelope(data=[1])), "data"),
    (push_body(attributes=["a"]), "'attributes' must be an object"),
])
def test_decode_push_rejects_malformed(body, where):
    with pytest.raises(PoisonMessage) as info:
        decode_push(body)
    assert where in str(info.value)


async def test_push_statuses():
    ok = Recorder()
    async with client_for(ok) as c:
        r = await c.post("/pubsub/push", json=push_body())
        assert r.status_code == 204 and len(ok.events) == 1

        r = await c.post("/pubsub/push", content=b"{not json")
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"] == "urn:harness:problem:malformed-push"
        assert "not JSON" in r.json()["detail"]

        r = await c.post("/pubsub/push", json=push_body(data=b"garbage"))
        assert r.status_code == 400 and "message 1234" in r.json()["detail"]
        assert len(ok.events) == 1  # never reached the handler

    failing = Recorder(RuntimeError("database down"))
    async with client_for(failing) as c:
        r = await c.post("/pubsub/push", json=push_body())
        assert r.status_code == 500  # nack: Pub/Sub retries
        assert r.json()["type"] == "urn:harness:problem:handler-failed"
        assert "database down" in r.json()["detail"]

    poison = Recorder(PoisonMessage("unknown run"))
    async with client_for(poison) as c:
        r = await c.post("/pubsub/push", json=push_body())
        assert r.status_code == 400  # nack too; dead-lettered after max attempts
        assert r.json()["type"] == "urn:harness:problem:poison-message"

    dup = Recorder(Duplicate())
    async with client_for(dup) as c:
        r = await c.post("/pubsub/push", json=push_body())
        assert r.status_code == 204  # already handled: ack


async def test_handle_push_is_framework_agnostic():
    rec = Recorder()
    out = await handle_push(orjson.dumps(push_body()), {"Content-Type": "application/json"},
                            rec, None)
    assert out == PushOutcome(204) and out.acked
    out = await handle_push(push_body(data=b"x"), {}, rec, None)
    assert out.status == 400 and not out.acked


async def test_duplicate_push_deliveries_change_nothing(pool):
    effects: list[uuid.UUID] = []

    async def handler(ev: StoredEvent) -> None:
        effects.append(ev.event_id)

    body = push_body()
    async with client_for(idempotent(pool, "push-test", handler)) as c:
        statuses = [(await c.post("/pubsub/push", json=body)).status_code for _ in range(3)]
        other = push_body()
        statuses.append((await c.post("/pubsub/push", json=other)).status_code)
    assert statuses == [204, 204, 204, 204]
    assert effects == [decode_push(body).event.event_id, decode_push(other).event.event_id]


# ------------------------------------------------------------------------------- OIDC


class CertServer:
    """Serves ``{kid: PEM certificate}`` like Google's v1 certs endpoint, on loopback."""

    def __init__(self):
        self.certs: dict[str, str] = {}
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.hits += 1
                body = orjson.dumps(owner.certs)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "public, max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth2/v1/certs"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Key:
    def __init__(self, kid: str):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-signer")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.private.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=1))
                .sign(self.private, hashes.SHA256()))
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        self.pem = self.private.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def token(self, kid: str | None = None, **over) -> str:
        """A Pub/Sub-style push token, signed with this key (announcing ``kid``)."""
        signer = crypt.RSASigner.from_string(self.pem, key_id=kid or self.kid)
        now = int(time.time())
        claims = {"iss": "https://accounts.google.com", "aud": AUDIENCE, "email": SA,
                  "email_verified": True, "sub": "1234567890", "azp": "1234567890",
                  "iat": now, "exp": now + 3600}
        claims.update(over)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(signer, claims).decode()


@pytest.fixture(scope="module")
def keys():
    return Key("key-1"), Key("key-2")


@pytest.fixture
def certs(keys):
    server = CertServer()
    server.certs = {keys[0].kid: keys[0].cert_pem}
    yield server
    server.close()


@pytest.fixture
def verifier(certs):
    return PushTokenVerifier(AUDIENCE, SA, certs_url=certs.url, clock_skew_seconds=0)


async def post(c: httpx.AsyncClient, token: str | None, scheme: str = "Bearer"):
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return await c.post("/pubsub/push", json=push_body(), headers=headers)


async def test_oidc_valid_token_accepted(keys, certs, verifier):
    rec = Recorder()
    async with client_for(rec, verifier) as c:
        r = await post(c, keys[0].token())
        assert r.status_code == 204 and len(rec.events) == 1
        r = await post(c, keys[0].token(iss="accounts.google.com"))  # both issuer spellings
        assert r.status_code == 204
    assert certs.hits == 1  # certificates cached


@pytest.mark.parametrize("case, status, detail", [
    ("wrong_audience", 401, "audience"),
    ("expired", 401, "expired"),
    ("missing", 401, "missing Authorization"),
    ("not_bearer", 401, "Bearer"),
    ("garbage", 401, "invalid push token"),
    ("wrong_issuer", 401, "issuer"),
    ("bad_signature", 401, "invalid push token"),
    ("unknown_key", 401, "invalid push token"),
    ("wrong_email", 403, "expected"),
    ("unverified_email", 403, "not verified"),
])
async def test_oidc_rejections(keys, certs, verifier, case, status, detail):
    good, other = keys
    token = {
        "wrong_audience": lambda: good.token(aud="https://someone-else.example"),
        "expired": lambda: good.token(iat=int(time.time()) - 7200,
                                      exp=int(time.time()) - 3600),
        "missing": lambda: None,
        "not_bearer": lambda: good.token(),
        "garbage": lambda: "abc.def.ghi",
        "wrong_issuer": lambda: good.token(iss="https://evil.example"),
        # signed by another key that claims to be key-1
        "bad_signature": lambda: other.token(kid=good.kid),
        "unknown_key": lambda: other.token(),  # key-2 is not published
        "wrong_email": lambda: good.token(email="someone@else.iam.gserviceaccount.com"),
        "unverified_email": lambda: good.token(email_verified=False),
    }[case]()
    rec = Recorder()
    async with client_for(rec, verifier) as c:
        r = await post(c, token, scheme="Basic" if case == "not_bearer" else "Bearer")
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert r.json()["type"] == "urn:harness:problem:push-unauthorized"
    assert rec.events == []  # never handled
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"


async def test_oidc_key_rotation_refetches_certificates(keys, certs, verifier):
    good, new = keys
    async with client_for(Recorder(), verifier) as c:
        assert (await post(c, good.token())).status_code == 204
        certs.certs = {new.kid: new.cert_pem}  # Google rotated its keys
        assert (await post(c, new.token())).status_code == 204
    assert certs.hits == 2


async def test_oidc_certificates_unavailable_is_retryable(keys):
    dead = CertServer()
    url = dead.url
    dead.close()
    v = PushTokenVerifier(AUDIENCE, SA, certs_url=url)
    async with client_for(Recorder(), v) as c:
        r = await post(c, keys[0].token())
    assert r.status_code == 503  # nack: Pub/Sub retries later


async def test_oidc_off_without_audience(keys):
    v = PushTokenVerifier.from_settings(Settings(push_audience=None, push_service_account=SA))
    assert not v.enabled
    rec = Recorder()
    async with client_for(rec, v) as c:
        assert (await post(c, None)).status_code == 204
        assert (await post(c, "whatever")).status_code == 204
    assert len(rec.events) == 2

    on = PushTokenVerifier.from_settings(
        Settings(push_audience=AUDIENCE, push_service_account=SA))
    assert on.enabled and on.audience == AUDIENCE and on.service_account == SA
