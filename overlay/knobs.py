"""The knobs of ``Settings``, nested by concern (``settings.choose.top_m``,
``OVERLAY_CHOOSE__TOP_M``). ``FLAT`` maps the flat names of earlier releases onto them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class IngestSettings(_Group):
    chunk_size: int = Field(default=200, ge=16, description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(default=32, ge=0, description="Overlap in embedder tokens.")
    max_file_mb: float = Field(
        default=32.0, gt=0, description="Larger files are refused before they are read."
    )
    budget_s: float = Field(default=300.0, gt=0, description="One upload's ingestion time "
        "limit; past it nothing of it is kept and the request ends with a clear error (the CLI "
        "has no limit).")  # fmt: skip
    max_pdf_pages: int = Field(
        default=5000,
        ge=1,
        description="PDFs with more pages are refused before any page is parsed.",
    )


# The most results one request may ask for, over HTTP, on the CLI and from Python alike (it was
# 100 over HTTP and 1000 locally; 100 keeps a ``chosen`` request's model work bounded).
MAX_K = 100


class RetrieveSettings(_Group):
    top_k: int = Field(
        default=10, ge=1, le=MAX_K, description="Results a retrieve or ask uses when no k is given."
    )
    rrf_k: int = Field(default=60, ge=1, description="Reciprocal rank fusion constant.")
    dense_weight: float = Field(default=1.0, ge=0, description="Weight of dense ranks in hybrid.")
    sparse_weight: float = Field(default=1.0, ge=0, description="Weight of BM25 ranks in hybrid.")
    bm25_k1: float = Field(default=1.2, gt=0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(default=0.75, ge=0, le=1, description="BM25 length normalisation.")
    hnsw_ef_search: int = Field(default=200, ge=10, description="HNSW search breadth (recall).")
    # hybrid reads each list deeper than it returns, so RRF sees chunks one method ranks low;
    # set by hand with hybrid retrieval (3c2b5d4), never swept: measure before changing
    hybrid_depth_factor: int = Field(
        default=2, ge=1, le=10, description="Hybrid reads k × this from each of dense and sparse."
    )
    hybrid_min_depth: int = Field(
        default=20, ge=1, le=1000, description="Hybrid reads at least this many from each."
    )


class ChooseSettings(_Group):
    top_m: int = Field(default=8, ge=1, le=128, description="Candidates the model scores.")
    top_n: int = Field(default=3, ge=1, le=32, description="Candidates an answer cites.")
    # calibrated on dev data only (SQuAD2 dev articles, 136 answerable and 20 off-corpus questions
    # not the bench's): 0.4 abstains on 8.8 % of answerable, every off-corpus one; 0.5 on 14.7 %
    threshold: float = Field(default=0.4, ge=0, le=1, description="Abstention floor.")
    batch_size: int = Field(default=8, ge=1, description="Candidates scored per forward pass.")
    view_cache_mb: int = Field(default=256, ge=0, description="Memory for views' scoring passes "
                               "kept; as much again for reader passages (0: off).")  # fmt: skip
    view_tokens: int = Field(default=64, ge=16, le=512, description="Model tokens of a "
                             "candidate the chooser reads.")  # fmt: skip
    views: Literal["window", "sentences"] = Field(default="window", description="A long chunk's "
        "view: the window covering the question best, or (before) its best sentences.")  # fmt: skip
    margin_center: float = Field(default=1.0, description="Log-prob margin (nats/token) over no "
                                 "passage that maps to 0.5.")  # fmt: skip
    margin_scale: float = Field(default=3.0, gt=0, description="Slope of that logistic.")
    # fusion weights, tuned with bench/choose_bench.py (SciFact subset and the sample documents)
    model_weight: float = Field(default=0.9, ge=0, description="Weight of the model score.")
    rank_weight: float = Field(default=0.1, ge=0, description="Weight of the retrieval rank.")
    learned_weight: float = Field(default=0.3, ge=0, description="Weight of feedback boosts.")
    rank_scale: float = Field(default=2.0, gt=0, description="Rank prior 1/(1+rank/scale).")
    # sentence fusion (overlay/choosing/sentences.py), fitted on dev questions only
    sentence_passage_weight: float = Field(
        default=1.0, ge=0, description="Weight of the chooser's passage score in ranking sentences."
    )
    sentence_rank_weight: float = Field(
        default=0.5, ge=0, description="Weight of the retrieval rank in ranking sentences."
    )


class AnswerSettings(_Group):
    mode: Literal["read", "generate", "choose"] = Field(
        default="read",
        description="read: the reader adapter's short span of the best sentence (default); "
        "choose: the best sentence; generate: grounded prose.",
    )
    reader_adapter: str = Field(default="reader", description="Adapter that reads spans in "
        "read mode (built in). reader-strict (built in) also says when its window does not "
        "answer: fewer wrong answers, fewer right ones (docs/performance.md).")  # fmt: skip
    reader_tries: int = Field(default=1, ge=1, le=8,
        description="Best sentences the reader reads (1: as good, faster).")  # fmt: skip
    reader_confident: float = Field(default=-0.2, le=0, description="Mean log-prob per token of "
        "the first span above which no other is read.")  # fmt: skip
    reader_weight: float = Field(default=0.5, ge=0,
        description="Weight of the reader's confidence against the sentence's.")  # fmt: skip
    reader_judge: str = Field(default="reader-strict", description="Adapter that reads each "
        "window the reader is shown, before it, and may say it does not answer ('': none; the "
        "reader itself: its own reply).")  # fmt: skip
    # fitted on DEVELOPMENT questions only (docs/performance.md)
    reader_no_answer: float = Field(default=0.9, ge=0, le=1, description="Probability of the "
        "no-answer reply (the judge's or the reader's) above which a window does not answer "
        "(every window read: abstain); 1: never. The default reader never says it.")  # fmt: skip
    reader: Literal["span", "adapter", "head"] = Field(
        default="span",
        description="How read mode chooses and reads. span: the span head reads every candidate "
        "in the choosing pass and its evidence orders and abstains, the reader adapter reads the "
        "chosen passages and a span that would cut a clause is answered with its sentence; "
        "head: the span head's own span is the answer (no decoding); adapter: query likelihood "
        "chooses and the reader adapter's span is the answer (before the span head).",
    )
    # span reader knobs: fitted on DEVELOPMENT data only (bench/answers_bench.py --fit); its
    # winner with dense similarity (0.1/0.6/0.34) is not the default: docs/performance.md
    span_weight: float = Field(
        default=0.2, ge=0, le=1,
        description="Share of the span head's evidence in a candidate's model score (the rest "
        "is query likelihood and dense similarity).",
    )  # fmt: skip
    dense_weight: float = Field(
        default=0.0, ge=0, le=1,
        description="Share of the question's embedding similarity to a candidate in its model "
        "score in span read mode (span_weight + dense_weight <= 1).",
    )  # fmt: skip
    span_threshold: float = Field(default=0.45, ge=0, le=1, description="Floor on that score "
        "of each passage cited after the first in span read mode (no gate: of all).")  # fmt: skip
    gate: bool = Field(default=True, description="Span read mode abstains by the answer gate "
        "(overlay/choosing/abstain.py: P(the first citation holds the answer), fitted on "
        "development data) instead of the span_threshold floor on the best passage.")  # fmt: skip
    # widening, same dev questions: the share made no difference (0.5-1.0); the clause rule
    # (always on in span mode) gave SQuAD 0.591 -> 0.521, TAT-QA 0.436 -> 0.471
    span_widen: float = Field(default=0.7, ge=0, le=1, description="A span covering at least "
        "this share of its sentence's words is answered with the whole sentence.")  # fmt: skip
    max_new_tokens: int = Field(default=96, ge=1, le=2048,
        description="Most tokens a generated answer may have.")  # fmt: skip
    context_budget: int = Field(default=1536, ge=128, description="Prompt budget in model tokens.")


class FeedbackSettings(_Group):
    turn_ttl_seconds: int = Field(default=7 * 86400, ge=60, description="Feedback window.")
    step: float = Field(default=0.25, gt=0, le=1, description="Weight change per vote.")
    half_life_days: float = Field(default=30.0, gt=0, description="Feedback decay.")


class AdapterSettings(_Group):
    max_loaded: int = Field(default=8, ge=1, description="Adapters kept in memory (LRU).")


class MemorySettings(_Group):
    embed_assistant: bool = Field(default=False, description="Also embed assistant turns "
                                  "for memory lookup.")  # fmt: skip
    k: int = Field(default=4, ge=0, le=100, description="Memories offered per chat turn.")
    # A memory's evidence floor rises linearly from its lookup score ``evidence_from`` to
    # ``evidence_full`` (the small model's query likelihood rates "my name is Bob" low); a
    # turn counts ``turn_evidence`` × its similarity. Set by hand when memories joined the
    # chat turn (0482800) and kept by the session-memory acceptance tests; never swept.
    evidence_from: float = Field(
        default=0.7, ge=0, le=1, description="Lookup score at which a memory's floor starts."
    )
    evidence_full: float = Field(
        default=0.9, ge=0, le=1, description="Lookup score at which a memory's floor is 1."
    )
    turn_evidence: float = Field(
        default=0.8, ge=0, le=1, description="A turn's weight as evidence against a fact's."
    )
    min_score: float = Field(
        default=0.35, ge=-1, le=2, description="Memories scoring below this are not offered."
    )
    fact_bonus: float = Field(default=0.15, ge=0, le=1, description="Fact priority.")
    answers: bool = Field(default=True, description="Answer from session memory first: a "
        "statement is acknowledged with the facts kept, a question the session's memory answers "
        "is answered from the remembered turn or fact, cited as memory "
        "(overlay/remembering/answer.py).")  # fmt: skip
    # both fitted on LoCoMo 47-49, 50 held out (bench/memory_bench.py; docs/memory.md)
    answer_floor: float = Field(default=0.9, ge=-1, le=3, description="Lookup score the best "
                                "remembered turn needs to answer a question itself.")  # fmt: skip
    read_turns: int = Field(default=3, ge=1, le=10, description="Remembered turns the reader "
                            "adapter reads for an answer from memory.")  # fmt: skip
    # LoCoMo 47-49, re-ranking the best 10: recall@3 0.666 -> 0.71, token F1 0.301 -> 0.308
    rerank_turns: int = Field(default=10, ge=0, le=50, description="Remembered turns the base "
                              "model re-scores before the reader reads (0: off).")  # fmt: skip
    rerank_weight: float = Field(default=0.1, ge=0, le=5, description="Weight of its log-prob "
                                 "margin beside the lookup score.")  # fmt: skip
    # the SQuAD-only reader reads turns better: LoCoMo token F1 0.295 vs 0.272 (docs/memory.md)
    reader_adapter: str = Field(default="memory-reader", description="Adapter that "
                                "reads remembered turns to answer (built in).")  # fmt: skip
    # recency 0 and lexical 0.5: chosen on LoCoMo dev (bench/memory_bench.py --locomo-only)
    recency_weight: float = Field(default=0.0, ge=0, le=1, description="Bonus of the newest "
                                  "turn in a lookup, fading.")  # fmt: skip
    lexical_weight: float = Field(default=0.5, ge=0, le=2, description="Bonus of a lookup's "
                                  "best BM25 turn match.")  # fmt: skip
    recency_halflife: float = Field(default=200.0, gt=0, description="In turns.")
    recent_turns: int = Field(default=6, ge=0, le=200, description="Most recent turns a prompt "
                              "may carry.")  # fmt: skip
    redis_vectors_max: int = Field(
        default=256, ge=0, description="A session's vectors move from Redis to Chroma past this."
    )


class ApiSettings(_Group):
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest request body (413 beyond)."
    )
    max_message_chars: int = Field(
        default=32_000, ge=1, description="Longest message or query, in characters (413 beyond)."
    )
    max_queue: int = Field(default=32, ge=1, description="Waiting chat requests before 429.")
    admin_key: SecretStr | None = Field(default=None, description="Reserved; nothing reads it yet.")
    model_workers: int = Field(
        default=1, ge=1, le=16, description="Threads running model work (chat turns) off the loop."
    )
    preload_model: bool = Field(
        default=True, description="Load the embedder, the model and the reader adapter when "
        "the API starts.")  # fmt: skip
    warm_views: int = Field(default=64, ge=0, description="Views (chunk windows) and reader "
                            "passages read ahead at start, after ingests (0: off).")  # fmt: skip
    lookup_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Threads running lookups (retrieve, memory, facts, documents) at once; "
        "0 = two per core (a lookup half waits on a store, half embeds), so 32 clients do "
        "not starve the model of CPU on a small machine.",
    )
    open_ops_endpoints: bool = Field(default=False, description="With API keys set, serve "
        "/metrics, /docs and /openapi.json without a key (they need one by default).")  # fmt: skip
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Without API keys the server answers only loopback Host names (DNS "
        "rebinding) and refuses writes from other sites' pages; these host names are "
        "allowed too (e.g. a container's service name).",
    )


GROUPS: dict[str, type[_Group]] = {
    "ingest": IngestSettings,
    "retrieve": RetrieveSettings,
    "choose": ChooseSettings,
    "answer": AnswerSettings,
    "feedback": FeedbackSettings,
    "adapters": AdapterSettings,
    "memory": MemorySettings,
    "api": ApiSettings,
}

FLAT: dict[str, tuple[str, str]] = {  # the flat name of earlier releases → (group, name)
    "chunk_size": ("ingest", "chunk_size"),
    "chunk_overlap": ("ingest", "chunk_overlap"),
    "max_file_mb": ("ingest", "max_file_mb"),
    "ingest_budget_s": ("ingest", "budget_s"),
    "sentence_passage_weight": ("choose", "sentence_passage_weight"),
    "sentence_rank_weight": ("choose", "sentence_rank_weight"),
    "reader_adapter": ("answer", "reader_adapter"),
    "memory_redis_vectors_max": ("memory", "redis_vectors_max"),
    "open_ops_endpoints": ("api", "open_ops_endpoints"),
    "top_k": ("retrieve", "top_k"),
    "rrf_k": ("retrieve", "rrf_k"),
    "dense_weight": ("retrieve", "dense_weight"),
    "sparse_weight": ("retrieve", "sparse_weight"),
    "bm25_k1": ("retrieve", "bm25_k1"),
    "bm25_b": ("retrieve", "bm25_b"),
    "hnsw_ef_search": ("retrieve", "hnsw_ef_search"),
    "choose_top_m": ("choose", "top_m"),
    "choose_top_n": ("choose", "top_n"),
    "choose_threshold": ("choose", "threshold"),
    "choose_batch_size": ("choose", "batch_size"),
    "choose_view_tokens": ("choose", "view_tokens"),
    "choose_margin_center": ("choose", "margin_center"),
    "choose_margin_scale": ("choose", "margin_scale"),
    "fuse_model_weight": ("choose", "model_weight"),
    "fuse_rank_weight": ("choose", "rank_weight"),
    "fuse_learned_weight": ("choose", "learned_weight"),
    "fuse_rank_scale": ("choose", "rank_scale"),
    "answer_mode": ("answer", "mode"),
    "max_new_tokens": ("answer", "max_new_tokens"),
    "context_budget": ("answer", "context_budget"),
    "turn_ttl_seconds": ("feedback", "turn_ttl_seconds"),
    "feedback_step": ("feedback", "step"),
    "feedback_half_life_days": ("feedback", "half_life_days"),
    "max_loaded_adapters": ("adapters", "max_loaded"),
    "memory_embed_assistant": ("memory", "embed_assistant"),
    "memory_k": ("memory", "k"),
    "memory_min_score": ("memory", "min_score"),
    "memory_fact_bonus": ("memory", "fact_bonus"),
    "memory_recency_weight": ("memory", "recency_weight"),
    "memory_lexical_weight": ("memory", "lexical_weight"),
    "memory_recency_halflife": ("memory", "recency_halflife"),
    "memory_recent_turns": ("memory", "recent_turns"),
    "max_body_bytes": ("api", "max_body_bytes"),
    "max_message_chars": ("api", "max_message_chars"),
    "max_queue": ("api", "max_queue"),
    "admin_key": ("api", "admin_key"),
    "model_workers": ("api", "model_workers"),
    "preload_model": ("api", "preload_model"),
    "lookup_threads": ("api", "lookup_threads"),
}
