"""One settings object for every entry point: ``OVERLAY_*`` variables or a YAML file.

Where things live (data dir, stores, model, embedder, host, port, keys) sits at the top;
the knobs are nested by concern: ``ingest``, ``retrieve``, ``choose``, ``answer``,
``feedback``, ``adapters``, ``memory``, ``api``. A nested knob is set with a double
underscore (``OVERLAY_CHOOSE__TOP_M=16``) or nested YAML (``choose: {top_m: 16}``); the flat
names of earlier releases (``OVERLAY_CHOOSE_TOP_M``, ``choose_top_m:``) are still read
(``FLAT`` maps them); where both are set, the nested name wins.

Precedence (highest first): explicit keyword arguments, environment variables,
the YAML file named by ``--config`` / ``OVERLAY_CONFIG``, the defaults below.
Nothing is read at import; ``get_settings()`` builds and caches the object and
tests override it with ``get_settings.cache_clear()`` or by passing ``Settings(...)``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from memory.errors import InvalidInput
from overlay.knobs import (
    FLAT,
    GROUPS,
    AdapterSettings,
    AnswerSettings,
    ApiSettings,
    ChooseSettings,
    FeedbackSettings,
    IngestSettings,
    MemorySettings,
    RetrieveSettings,
)


def _default_data_dir() -> Path:
    """`$XDG_DATA_HOME/overlay`, else `~/.local/share/overlay`."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "overlay"


class Settings(BaseSettings):
    """Everything configurable about Overlay. Top-level names map to ``OVERLAY_<NAME>``,
    nested ones to ``OVERLAY_<GROUP>__<NAME>``."""

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
    redis_timeout_s: float = Field(
        default=3.0, gt=0, le=120,
        description="How long one Redis call may wait for an answer; a stalled Redis then "
        "answers 503 with Retry-After instead of hanging the request.",
    )  # fmt: skip
    redis_retries: int = Field(
        default=1, ge=0, le=5, description="Retries of a Redis call that timed out or lost its "
        "connection (redis-py's default of several, each waiting the timeout, held a call ~2 min).",
    )  # fmt: skip
    chroma_timeout_s: float = Field(
        default=15.0, gt=0, le=600,
        description="How long one Chroma call (query, add, delete) may wait for an answer "
        "(Chroma's HTTP client has no limit of its own); past it the request answers 503.",
    )  # fmt: skip
    chroma_mode: Literal["server", "inprocess"] = Field(
        default="server",
        description=(
            "Embedded Chroma flavour when chroma_url is unset: 'server' starts one loopback "
            "`chroma run` per data dir shared by every overlay process (safe for serve + ingest); "
            "'inprocess' uses chromadb.PersistentClient, locked to a single process."
        ),
    )
    embedder: str = Field(
        default="all-MiniLM-L6-v2",
        description="Sentence-transformers folder, cached id, or the built-in all-MiniLM-L6-v2.",
    )
    embed_batch_size: int = Field(default=32, ge=1, description="Texts embedded per batch.")
    embed_runtime: Literal["auto", "torch", "numpy"] = Field(
        default="auto",
        description="What runs a plain-BERT embedder (the built-in one). auto: numpy for a call "
        "of at most 16 texts while torch is not loaded (a cold `overlay retrieve` never imports "
        "torch), torch for bigger batches or once torch is loaded; torch or numpy: always. "
        "Vectors agree to 1e-5, so a collection takes either.",
    )
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
    decode_kernel: Literal["auto", "torch"] = Field(
        default="auto",
        description="auto: decode through Overlay's C kernels, compiled for this CPU at first "
        "use (one torch thread, a C compiler present); torch: torch's own kernels.",
    )
    torch_threads: int = Field(
        default=0, ge=0, le=256,
        description="torch intra-op threads; 0 = (usable cores - 1) / model_workers, at least 1.",
    )  # fmt: skip
    batch_threads: int = Field(
        default=0, ge=0, le=256,
        description="torch intra-op threads of the batched passes (scoring candidates, reading a "
        "prompt); 0 = usable cores / model_workers, at least 1. Decoding keeps torch_threads.",
    )  # fmt: skip
    models_dir: Path | None = Field(
        default=None, description="Converted base models live here; default <data_dir>/models."
    )
    adapters_dir: Path | None = Field(
        default=None, description="Folder of PEFT adapters; default <data_dir>/adapters."
    )
    collection: str = Field(default="default", description="Default document collection.")
    host: str = Field(default="127.0.0.1", description="Address `overlay serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `overlay serve` listens on.")
    api_keys: dict[str, str] = Field(
        default_factory=dict, description="Bearer key → tenant. Empty = local single-tenant mode."
    )

    # --- knobs, nested by concern (overlay.knobs) ------------------------------
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieve: RetrieveSettings = Field(default_factory=RetrieveSettings)
    choose: ChooseSettings = Field(default_factory=ChooseSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    adapters: AdapterSettings = Field(default_factory=AdapterSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_names(cls, data: Any) -> Any:
        """Flat names of earlier releases (``choose_top_m``) go to their group."""
        return nest_flat(data) if isinstance(data, dict) else data

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

    def updated(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` (flat or ``group={...}`` names) applied."""
        data = self.model_dump()
        unknown = sorted(set(nest_flat(changes)) - set(type(self).model_fields))
        if unknown:  # never a silent no-op: a misspelt or ungrouped name is an error
            raise ValueError(f"unknown settings: {', '.join(unknown)} (see docs/settings.md)")
        for group, values in nest_flat(changes).items():
            if group in GROUPS and isinstance(values, dict):
                data[group] = {**data[group], **values}
            else:
                data[group] = values
        return type(self).model_validate(data)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources = [init_settings, env_settings, _FlatEnvSource(settings_cls)]
        config = os.environ.get("OVERLAY_CONFIG")
        if config:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config))
        return tuple(sources)


def nest_flat(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with flat names (``choose_top_m``) moved into their group; nested ones win."""
    out = {k: v for k, v in data.items() if k not in FLAT}
    for flat, (group, name) in FLAT.items():
        if flat not in data:
            continue
        nested = out.get(group)
        nested = dict(nested) if isinstance(nested, dict) else {}
        nested.setdefault(name, data[flat])
        out[group] = nested
    return out


class _FlatEnvSource(PydanticBaseSettingsSource):
    """``OVERLAY_<FLAT_NAME>`` variables of earlier releases, below the nested ones."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for flat, (group, name) in FLAT.items():
            raw = os.environ.get(f"OVERLAY_{flat.upper()}")
            if raw is None:
                continue
            annotation = str(GROUPS[group].model_fields[name].annotation)
            value = json.loads(raw) if annotation.startswith(("dict", "list")) else raw
            out.setdefault(group, {})[name] = value
        return out


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
        data = _below_env(nest_flat(data))
        overrides = {**data, **nest_flat(overrides)}
    return Settings(**overrides)


def _below_env(data: dict[str, Any]) -> dict[str, Any]:
    """The YAML file's values that no environment variable overrides (env ranks higher)."""
    env = {k[len("OVERLAY_") :].lower() for k in os.environ if k.startswith("OVERLAY_")}
    flat_of = {(g, n): f for f, (g, n) in FLAT.items()}
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in GROUPS and isinstance(value, dict):
            kept = {
                n: v for n, v in value.items()
                if f"{key}__{n}" not in env and flat_of.get((key, n)) not in env
            }  # fmt: skip
            if kept:
                out[key] = kept
        elif key not in env:
            out[key] = value
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use."""
    return load_settings()
