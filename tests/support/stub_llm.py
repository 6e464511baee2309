"""A scriptable OpenAI-compatible HTTP server on loopback, for tests.

It runs uvicorn in a background thread on ``127.0.0.1`` and a free port::

    with StubLLM(latency_s=0.1) as stub:
        stub.script("gpt-4o-mini", "first answer", "second answer")
        stub.fail_next(status=429, times=2)
        await litellm.acompletion(model="openai/gpt-4o-mini", api_base=stub.base_url,
                                  api_key="sk-test", messages=[...])
        assert len(stub.chat_requests) == 3

Endpoints: ``POST /v1/chat/completions`` (JSON or ``stream: true`` SSE ending with
``data: [DONE]``, usage included), ``POST /v1/embeddings`` (deterministic vectors,
float or base64), ``POST /v1/moderations`` (flags a category when its word in
:attr:`StubLLM.moderation_words` occurs in the input), ``GET /v1/models``.

Replies, in order of precedence: a queued scripted output for the model, the
model's reply function/text, then the default reply (a function or a text; the
default echoes the last user message). A reply function receives the request
body (a dict) and returns the text. A reply (or a function's result) may instead be a
dict ``{"content": text or None, "tool_calls": [{"name": ..., "arguments": "<json>"}]}``:
the answer then calls those tools (``finish_reason: "tool_calls"``; streamed as tool call
deltas, each call's arguments in several pieces). A request with ``n`` gets ``n`` choices (one
reply each; usage counts every choice's tokens, as OpenAI bills them). Set
``send_usage = False`` to answer without ``usage`` (as some providers and proxies do);
:attr:`StubLLM.billed` keeps the tokens every answer would be billed for either way.
Failures queued with :meth:`StubLLM.fail_next` are consumed before any reply. Latency
is ``asyncio.sleep``, so concurrent requests overlap; :attr:`StubLLM.max_in_flight`
tells how many did.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["Failure", "RecordedRequest", "Reply", "StubLLM", "estimate_tokens"]

Output = str | dict  # a text, or {"content": ..., "tool_calls": [{"name", "arguments"}]}
Reply = Output | Callable[[dict], Output]

QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details."
)

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def estimate_tokens(text: str) -> int:
    """Deterministic token estimate: whitespace-separated words (at least 1 for text)."""
    return len(text.split()) if text.strip() else 0


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(
            part.get("text", "") for part in content if isinstance(part, dict)
        )
    return str(content)


def _echo_last_user(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


@dataclass
class RecordedRequest:
    """One request as the stub received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict | None
    received_at: float

    @property
    def model(self) -> str | None:
        return (self.body or {}).get("model")

    @property
    def messages(self) -> list[dict]:
        return (self.body or {}).get("messages") or []


@dataclass
class Failure:
    """A failure to inject: an HTTP error, or a stall (``delay_s``) then an answer."""

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    model: str | None = None  # None = any model
    delay_s: float = 0.0  # wait this long before answering (a stall, for timeouts)
    succeed_after_delay: bool = False  # after delay_s, answer normally instead of erroring
    headers: dict[str, str] = field(default_factory=dict)
    remaining: int = 1


class StubLLM:
    """OpenAI-compatible stub server on ``127.0.0.1`` in a background thread."""

    def __init__(
        self,
        *,
        default_reply: Reply | None = None,
        latency_s: float = 0.0,
        models: list[str] | None = None,
        embedding_dim: int = 16,
        host: str = "127.0.0.1",
    ) -> None:
        self.default_reply: Reply = default_reply if default_reply is not None else _echo_last_user
        self.latency_s = latency_s
        self.embedding_dim = embedding_dim
        self.host = host
        self.send_usage = True  # False: answers (JSON, SSE, embeddings) carry no usage
        self.chunk_delay_s = 0.0  # pause between SSE chunks (a slow stream)
        # (model, prompt_tokens, completion_tokens) of every answer, sent or not: what a
        # real provider would bill, for tests that check spend independently of the caller
        self.billed: list[tuple[str, int, int]] = []
        self._models = list(models or ["stub-model"])
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = {}
        self._replies: dict[str, Reply] = {}
        self._usage: dict[str, dict[str, int]] = {}
        self._failures: list[Failure] = []
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._hold_until: int | None = None
        self._hold_timeout_s = 60.0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        # /v1/moderations: a category is flagged when its word occurs in the input
        self.moderation_words: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` — pass as LiteLLM's ``api_base``."""
        if self.port is None:
            raise RuntimeError("StubLLM is not started")
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> StubLLM:
        if self._server is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit this on Linux: no Nagle + delayed-ACK 40 ms stalls
        # between the response head and body on kept-alive connections.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, 0))
        sock.listen(2048)
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            log_level="warning",
            access_log=False,
            lifespan="off",
            backlog=2048,
            timeout_keep_alive=30,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"stub-llm-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 60  # a hang guard for a loaded machine
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("StubLLM failed to start")
            time.sleep(0.005)
        self._sock = sock
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=10)
        self._sock.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> StubLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> StubLLM:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # ------------------------------------------------------------------ scripting
    def script(self, model: str, *outputs: Reply) -> StubLLM:
        """Queue outputs for ``model`` (as LiteLLM sends it: no ``openai/`` prefix)."""
        with self._lock:
            self._scripts.setdefault(model, deque()).extend(outputs)
            self._add_model(model)
        return self

    def reply(self, model: str, reply: Reply) -> StubLLM:
        """Always answer ``model`` with ``reply`` (text, or a function of the request body)."""
        with self._lock:
            self._replies[model] = reply
            self._add_model(model)
        return self

    def usage(self, model: str, prompt_tokens: int, completion_tokens: int) -> StubLLM:
        """Report fixed token usage for ``model`` instead of the word-count estimate."""
        with self._lock:
            self._usage[model] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
            }
        return self

    def fail_next(
        self,
        status: int = 500,
        times: int = 1,
        *,
        model: str | None = None,
        message: str | None = None,
        type: str | None = None,  # the OpenAI error "type" field
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> StubLLM:
        """Answer the next ``times`` chat/embedding requests (for ``model``, or any) with an
        OpenAI-style error body ``{"error": {"message", "type", "param", "code"}}``."""
        return self._queue(
            Failure(
                status=status,
                message=message or f"stub injected error {status}",
                type=type or _ERROR_TYPES.get(status, "server_error"),
                code=code,
                model=model,
                headers=dict(headers or {}),
                remaining=times,
            )
        )

    def quota_next(self, times: int = 1, *, model: str | None = None) -> StubLLM:
        """OpenAI's out-of-credit answer: a 429 with code ``insufficient_quota``."""
        return self.fail_next(
            429, times, model=model, message=QUOTA_MESSAGE, type="insufficient_quota",
            code="insufficient_quota",
        )

    def stall_next(self, seconds: float, times: int = 1, *, model: str | None = None) -> StubLLM:
        """Delay the next ``times`` requests by ``seconds`` before answering normally
        (a client with a shorter timeout sees a timeout)."""
        return self._queue(
            Failure(delay_s=seconds, succeed_after_delay=True, model=model, remaining=times)
        )

    def hold_until_in_flight(self, n: int, timeout_s: float = 60.0) -> StubLLM:
        """Answer nothing until ``n`` requests are in flight at once (then answer all).

        Proves concurrency by overlap instead of by wall-clock time: a client that
        serializes its requests never reaches ``n``; after ``timeout_s`` (a hang guard) the
        hold is lifted, and ``max_in_flight`` says how far it got."""
        self._hold_until, self._hold_timeout_s = n, timeout_s
        return self

    def reset(self) -> None:
        """Forget scripts, replies, failures and recorded requests."""
        with self._lock:
            self._scripts.clear()
            self._replies.clear()
            self._usage.clear()
            self._failures.clear()
            self._requests.clear()
            self.billed.clear()
            self.max_in_flight = 0
            self._hold_until = None

    # ------------------------------------------------------------------ inspection
    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/embeddings")]

    def models_called(self) -> list[str | None]:
        """The ``model`` of each chat request, in arrival order."""
        return [r.model for r in self.chat_requests]

    # ------------------------------------------------------------------ internals
    def _add_model(self, model: str) -> None:
        if model not in self._models:
            self._models.append(model)

    def _queue(self, failure: Failure) -> StubLLM:
        if failure.remaining > 0:
            with self._lock:
                self._failures.append(failure)
        return self

    def _take_failure(self, model: str | None) -> Failure | None:
        with self._lock:
            for failure in self._failures:
                if failure.model is None or failure.model == model:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _reply_for(self, model: str, body: dict) -> Output:
        with self._lock:
            queue = self._scripts.get(model)
            reply = queue.popleft() if queue else self._replies.get(model, self.default_reply)
        return reply(body) if callable(reply) else reply

    def _usage_for(self, model: str, body: dict, outputs: list[Output]) -> dict[str, int]:
        """Prompt tokens once, completion tokens summed over the choices (a fixed usage
        set with :meth:`usage` is per choice for the completion)."""
        with self._lock:
            fixed = self._usage.get(model)
        if fixed is not None:
            prompt = fixed["prompt_tokens"]
            completion = fixed["completion_tokens"] * len(outputs)
        else:
            messages = body.get("messages") or []
            prompt = sum(estimate_tokens(_content_text(m.get("content"))) + 3 for m in messages)
            completion = sum(estimate_tokens(_output_text(output)) for output in outputs)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    async def _record(self, request: Request) -> dict | None:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.url.path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                    received_at=time.time(),
                )
            )
        return body

    async def _before_answer(self, model: str | None) -> Response | None:
        """Apply latency and any injected failure; return an error response or None."""
        failure = self._take_failure(model)
        if self._hold_until is not None:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._hold_timeout_s
            while self._hold_until is not None and self.max_in_flight < self._hold_until:
                if loop.time() > deadline:
                    self._hold_until = None
                    break
                await asyncio.sleep(0.005)
        delay = self.latency_s + (failure.delay_s if failure else 0.0)
        if delay > 0:
            await asyncio.sleep(delay)
        if failure is None or failure.succeed_after_delay:
            return None
        return JSONResponse(
            {
                "error": {
                    "message": failure.message,
                    "type": failure.type,
                    "param": None,
                    "code": failure.code,
                }
            },
            status_code=failure.status,
            headers=failure.headers,
        )

    def _bill(self, model: str, usage: dict[str, int]) -> None:
        with self._lock:
            self.billed.append((model, usage["prompt_tokens"], usage["completion_tokens"]))

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _app(self) -> Starlette:
        async def chat(request: Request) -> Response:
            body = await self._record(request)
            if not isinstance(body, dict) or not body.get("messages"):
                return _bad_request("'messages' is required")
            model = str(body.get("model") or "stub-model")
            n = body.get("n") or 1
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                return _bad_request("'n' must be a positive integer")
            self._enter()
            try:
                error = await self._before_answer(model)
                if error is not None:
                    return error
                outputs = [self._reply_for(model, body) for _ in range(n)]
            finally:
                self._leave()
            billed = self._usage_for(model, body, outputs)
            self._bill(model, billed)
            usage = billed if self.send_usage else None
            completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
            created = int(time.time())
            if body.get("stream"):
                return StreamingResponse(
                    _paced(_sse_chunks(completion_id, created, model, outputs, usage),
                           self.chunk_delay_s),
                    media_type="text/event-stream",
                )
            answer: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "system_fingerprint": "fp_stub",
                "choices": [
                    {
                        "index": i,
                        "message": _message(output),
                        "logprobs": None,
                        "finish_reason": "tool_calls" if _calls(output) else "stop",
                    }
                    for i, output in enumerate(outputs)
                ],
            }
            if usage is not None:
                answer["usage"] = usage
            return JSONResponse(answer)

        async def embeddings(request: Request) -> Response:
            body = await self._record(request)
            if not isinstance(body, dict) or "input" not in body:
                return _bad_request("'input' is required")
            model = str(body.get("model") or "stub-embedding")
            inputs = body["input"]
            if isinstance(inputs, str):
                inputs = [inputs]
            dim = int(body.get("dimensions") or self.embedding_dim)
            self._enter()
            try:
                error = await self._before_answer(model)
            finally:
                self._leave()
            if error is not None:
                return error
            data = []
            for index, text in enumerate(inputs):
                vector = _vector(str(text), dim)
                if body.get("encoding_format") == "base64":
                    value: Any = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
                else:
                    value = vector
                data.append({"object": "embedding", "index": index, "embedding": value})
            tokens = sum(estimate_tokens(str(t)) for t in inputs)
            self._bill(model, {"prompt_tokens": tokens, "completion_tokens": 0})
            answer = {"object": "list", "data": data, "model": model}
            if self.send_usage:
                answer["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
            return JSONResponse(answer)

        async def moderations(request: Request) -> Response:
            body = await self._record(request)
            if not isinstance(body, dict) or "input" not in body:
                return _bad_request("'input' is required")
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            with self._lock:
                words = dict(self.moderation_words)
            results = []
            for text in inputs:
                lowered = str(text).lower()
                flags = {c: w.lower() in lowered for c, w in words.items()}
                results.append({"flagged": any(flags.values()), "categories": flags,
                                "category_scores": {c: 0.9 if f else 0.01
                                                    for c, f in flags.items()}})
            return JSONResponse({"id": f"modr-{uuid.uuid4().hex[:12]}",
                                 "model": str(body.get("model") or "omni-moderation-latest"),
                                 "results": results})

        async def models(request: Request) -> Response:
            await self._record(request)
            with self._lock:
                names = list(self._models)
            return JSONResponse(
                {
                    "object": "list",
                    "data": [
                        {"id": name, "object": "model", "created": 0, "owned_by": "stub"}
                        for name in names
                    ],
                }
            )

        return Starlette(
            routes=[
                Route("/v1/chat/completions", chat, methods=["POST"]),
                Route("/chat/completions", chat, methods=["POST"]),
                Route("/v1/embeddings", embeddings, methods=["POST"]),
                Route("/embeddings", embeddings, methods=["POST"]),
                Route("/v1/moderations", moderations, methods=["POST"]),
                Route("/moderations", moderations, methods=["POST"]),
                Route("/v1/models", models, methods=["GET"]),
                Route("/models", models, methods=["GET"]),
            ]
        )


def _calls(output: Output) -> list[dict]:
    """The tool calls of a scripted output, in OpenAI's shape."""
    if not isinstance(output, dict):
        return []
    return [{"id": f"call_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": c.get("arguments", "{}")}}
            for i, c in enumerate(output.get("tool_calls") or [])]


def _content(output: Output) -> str | None:
    return output.get("content") if isinstance(output, dict) else output


def _output_text(output: Output) -> str:
    return " ".join([_content(output) or "",
                     *(c["function"]["arguments"] for c in _calls(output))]).strip()


def _message(output: Output) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": _content(output)}
    if _calls(output):
        message["tool_calls"] = _calls(output)
    return message


def _bad_request(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "invalid_request_error", "param": None,
                   "code": None}},
        status_code=400,
    )


def _vector(text: str, dim: int) -> list[float]:
    """Deterministic unit vector from the text's hash (identical texts, identical vectors)."""
    values: list[float] = []
    counter = 0
    while len(values) < dim:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


async def _paced(chunks: Iterator[str], delay_s: float) -> AsyncIterator[str]:
    for i, chunk in enumerate(chunks):
        if i and delay_s:
            await asyncio.sleep(delay_s)
        yield chunk


def _sse_chunks(
    completion_id: str, created: int, model: str, outputs: list[Output],
    usage: dict[str, int] | None,
) -> Iterator[str]:
    def chunk(choices: list[dict], **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_stub",
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n"

    for index, output in enumerate(outputs):
        yield chunk([{"index": index, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": None}])
        words = (_content(output) or "").split(" ")
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            if piece:
                yield chunk([{"index": index, "delta": {"content": piece},
                              "finish_reason": None}])
        calls = _calls(output)
        for k, call in enumerate(calls):  # the name first, the arguments in three pieces
            yield chunk([{"index": index, "delta": {"tool_calls": [
                {"index": k, "id": call["id"], "type": "function",
                 "function": {"name": call["function"]["name"], "arguments": ""}}]},
                "finish_reason": None}])
            args = call["function"]["arguments"]
            step = max(1, -(-len(args) // 3))
            for at in range(0, len(args), step):
                yield chunk([{"index": index, "delta": {"tool_calls": [
                    {"index": k, "function": {"arguments": args[at:at + step]}}]},
                    "finish_reason": None}])
        yield chunk([{"index": index, "delta": {},
                      "finish_reason": "tool_calls" if calls else "stop"}])
    if usage is not None:
        yield chunk([], usage=usage)
    yield "data: [DONE]\n\n"
