"""One settings object for every entry point: ``OVERLAY_*`` variables or a YAML file.

Precedence (highest first): explicit keyword arguments, environment variables,
the YAML file named by ``--config`` / ``OVERLAY_CONFIG``, the defaults below.
Nothing is read at import; ``get_settings()`` builds and caches the object and
tests override it with ``get_settings.cache_clear()`` or by passing ``Settings(...)``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from memory.errors import InvalidInput


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "overlay"


class Settings(BaseSettings):
    """Everything configurable about Overlay. Field names map to ``OVERLAY_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="OVERLAY_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    # --- where things live -------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory for the embedded Redis, the embedded Chroma, converted models.",
    )
    redis_url: str | None = Field(
        default=None, description="redis://… of an external Redis; unset = embedded server."
    )
    redis_cluster: bool = Field(
        default=False,
        description="redis_url is one seed node of a Redis Cluster (redis-py's cluster client).",
    )
    chroma_url: str | None = Field(
        default=None, description="http://host:port of a `chroma run` server; unset = embedded."
    )
    chroma_mode: Literal["server", "inprocess"] = Field(
        default="server",
        description=(
            "Embedded Chroma flavour when chroma_url is unset: 'server' starts one loopback "
            "`chroma run` per data dir shared by every overlay process (safe for serve + ingest); "
            "'inprocess' uses chromadb.PersistentClient, locked to a single process."
        ),
    )
    hnsw_ef_search: int = Field(default=200, ge=10, description="HNSW search breadth (recall).")
    embedder: str = Field(
        default="all-MiniLM-L6-v2",
        description="Sentence-transformers folder, cached id, or the built-in all-MiniLM-L6-v2.",
    )
    embed_batch_size: int = Field(default=32, ge=1)
    model: str = Field(
        default="smollm2-135m-instruct",
        description="Built-in name, local transformers folder, .gguf file, or cached model id.",
    )
    device: str = Field(default="cpu", description="torch device: cpu or cuda.")
    dtype: Literal["auto", "fp32", "bf16"] = Field(
        default="auto",
        description="Numeric path: auto (bf16 scoring where the CPU has native bf16 and a probe "
        "confirms it is faster; fp32 decoding), fp32 (everything), bf16 (bf16 scoring).",
    )
    torch_threads: int = Field(
        default=0, ge=0, le=256,
        description="torch intra-op threads; 0 = (usable cores - 1) / model_workers, at least 1.",
    )  # fmt: skip
    adapters_dir: Path | None = Field(
        default=None, description="Folder of PEFT adapters; default <data_dir>/adapters."
    )

    # --- ingestion ----------------------------------------------------------
    collection: str = Field(default="default", description="Default document collection.")
    chunk_size: int = Field(default=200, ge=16, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(default=32, ge=0, description="Overlap in embedder tokens.")
    max_file_mb: float = Field(
        default=32.0, gt=0, description="Larger files are refused before they are read."
    )
    ingest_budget_s: float = Field(
        default=300.0,
        gt=0,
        description="One upload's ingestion time limit; past it nothing "
        "of it is kept and the request ends with a clear error (the CLI has no limit).",
    )

    # --- retrieval ----------------------------------------------------------
    top_k: int = Field(default=10, ge=1, le=1000)
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0)
    sparse_weight: float = Field(default=1.0, ge=0)
    bm25_k1: float = Field(default=1.2, gt=0)
    bm25_b: float = Field(default=0.75, ge=0, le=1)

    # --- choosing and answering ----------------------------------------------
    choose_top_m: int = Field(default=8, ge=1, le=128, description="Candidates the model scores.")
    choose_top_n: int = Field(default=3, ge=1, le=32, description="Candidates an answer cites.")
    choose_threshold: float = Field(default=0.5, ge=0, le=1, description="Abstention floor.")
    choose_batch_size: int = Field(default=8, ge=1)
    answer_mode: Literal["read", "generate", "choose"] = Field(
        default="read",
        description="read: the reader adapter's short span of the best sentence (default); "
        "choose: the best sentence; generate: grounded prose.",
    )
    reader_adapter: str = Field(
        default="reader", description="Adapter that reads spans in read mode (built in)."
    )
    # sentence fusion (overlay/choosing/sentences.py), fitted on dev questions only
    sentence_passage_weight: float = Field(default=1.0, ge=0)
    sentence_rank_weight: float = Field(default=0.5, ge=0)
    max_new_tokens: int = Field(default=96, ge=1, le=2048)
    context_budget: int = Field(default=1536, ge=128, description="Prompt budget in model tokens.")

    # --- base model, scoring and feedback (issue 3) ---------------------------
    models_dir: Path | None = Field(
        default=None, description="Converted base models live here; default <data_dir>/models."
    )
    choose_view_tokens: int = Field(
        default=64, ge=16, le=512, description="Model tokens of a candidate the chooser reads."
    )
    # defaults tuned with bench/choose_bench.py (SciFact subset and the sample documents)
    fuse_model_weight: float = Field(default=0.9, ge=0, description="Weight of the model score.")
    fuse_rank_weight: float = Field(default=0.1, ge=0, description="Weight of the retrieval rank.")
    fuse_learned_weight: float = Field(default=0.3, ge=0, description="Weight of feedback boosts.")
    fuse_rank_scale: float = Field(default=2.0, gt=0, description="Rank prior 1/(1+rank/scale).")
    choose_margin_center: float = Field(
        default=1.0, description="Log-prob margin (nats/token) over no passage that maps to 0.5."
    )
    choose_margin_scale: float = Field(default=3.0, gt=0, description="Slope of that logistic.")
    turn_ttl_seconds: int = Field(default=7 * 86400, ge=60, description="Feedback window.")
    feedback_step: float = Field(default=0.25, gt=0, le=1, description="Weight change per vote.")
    feedback_half_life_days: float = Field(default=30.0, gt=0, description="Feedback decay.")

    # --- adapters -----------------------------------------------------------
    max_loaded_adapters: int = Field(default=8, ge=1)

    # --- session memory (memory/sessions.py, overlay/context.py) --------------
    memory_embed_assistant: bool = Field(
        default=False, description="Also embed assistant turns for memory lookup."
    )
    memory_k: int = Field(default=4, ge=0, le=100, description="Memories offered per chat turn.")
    memory_min_score: float = Field(
        default=0.35, ge=-1, le=2, description="Memories scoring below this are not offered."
    )
    memory_fact_bonus: float = Field(default=0.15, ge=0, le=1, description="Fact priority.")
    # recency 0 and lexical 0.5: chosen on LoCoMo dev (bench/memory_bench.py --locomo-only)
    memory_recency_weight: float = Field(default=0.0, ge=0, le=1)
    memory_lexical_weight: float = Field(
        default=0.5, ge=0, le=2, description="Bonus of a lookup's best BM25 turn match."
    )
    memory_recency_halflife: float = Field(default=200.0, gt=0, description="In turns.")
    memory_redis_vectors_max: int = Field(
        default=256, ge=0, description="A session's vectors move from Redis to Chroma past this."
    )
    memory_recent_turns: int = Field(
        default=6, ge=0, le=200, description="Most recent turns a prompt may carry."
    )

    # --- API ----------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_keys: dict[str, str] = Field(
        default_factory=dict, description="Bearer key → tenant. Empty = local single-tenant mode."
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_message_chars: int = Field(default=32_000, ge=1)
    max_queue: int = Field(default=32, ge=1, description="Waiting chat requests before 429.")
    admin_key: SecretStr | None = None
    open_ops_endpoints: bool = Field(
        default=False,
        description="With API keys set, serve /metrics, /docs and /openapi.json "
        "without a key (they need one by default).",
    )
    # --- API serving (issue 6) ------------------------------------------------
    model_workers: int = Field(
        default=1, ge=1, le=16, description="Threads running model work (chat turns) off the loop."
    )
    preload_model: bool = Field(
        default=True, description="Load the embedder and the model when the API starts."
    )
    lookup_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Threads running lookups (retrieve, memory, facts, documents) at once; "
        "few leave CPU to the model on a small machine.",
    )

    @field_validator("data_dir", "adapters_dir", "models_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path | None) -> Path | None:
        return v.expanduser().resolve() if v is not None else None

    @property
    def adapters_path(self) -> Path:
        return self.adapters_dir or self.data_dir / "adapters"

    @property
    def models_path(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("OVERLAY_CONFIG")
        if config:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings, reading the YAML file ``config`` (or ``OVERLAY_CONFIG``) if given."""
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise InvalidInput(f"config file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"config file {path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"config file {path} must hold a mapping of settings")
        env = {k[len("OVERLAY_") :].lower() for k in os.environ if k.startswith("OVERLAY_")}
        data = {k: v for k, v in data.items() if k not in env}
        overrides = {**data, **overrides}
    return Settings(**overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()
