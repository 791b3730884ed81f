"""The BM25 sparse index in Redis: exact scores, idf that follows the corpus, clean removal."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from memory.stores.sparse import SparseIndex, analyze
from overlay.choosing.rrf import rrf
from overlay.services import Services

DOCS = {
    "a": "The quick brown fox jumps over the lazy dog",
    "b": "A fox is a small omnivorous mammal; foxes hunt at night",
    "c": "Dogs are loyal companions and the dog barks at night",
    "d": "Quantum computers use qubits instead of classical bits",
    "e": "The brown bear and the brown fox met in the forest",
}


@pytest.fixture
def services(services_both: Services) -> Services:
    """Every test here runs on the single Redis server and on the Redis Cluster."""
    return services_both


def brute_bm25(docs: dict[str, str], query: str, k1: float = 1.2, b: float = 0.75) -> dict:
    """Textbook BM25 over the same analyzer (avgdl of the whole corpus)."""
    tfs = {d: Counter(analyze(t)) for d, t in docs.items()}
    n = len(docs)
    avgdl = sum(sum(c.values()) for c in tfs.values()) / n
    out: dict[str, float] = {}
    for term in dict.fromkeys(analyze(query)):
        df = sum(1 for c in tfs.values() if term in c)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for d, c in tfs.items():
            if term in c:
                dl = sum(c.values())
                w = c[term] * (k1 + 1) / (c[term] + k1 * (1 - b + b * dl / avgdl))
                out[d] = out.get(d, 0.0) + idf * w
    return out


@pytest.fixture
def index(services) -> SparseIndex:
    return SparseIndex(services.weights, "docs")


def test_scores_match_textbook_bm25(index: SparseIndex) -> None:
    assert index.add(list(DOCS.items())) == len(DOCS)  # one batch: avgdl is exact
    for query in ("brown fox", "dog at night", "qubits", "fox fox forest bear"):
        expected = brute_bm25(DOCS, query)
        got = dict(index.search(query, k=10))
        assert got.keys() == expected.keys(), query
        for d, score in expected.items():
            assert got[d] == pytest.approx(score, rel=1e-4), (query, d)
        ranked = [d for d, _ in index.search(query, k=10)]
        assert ranked == sorted(expected, key=lambda d: (-expected[d], d))


def test_idf_follows_the_corpus_as_it_grows_and_shrinks(index: SparseIndex) -> None:
    index.add([("a", DOCS["a"]), ("d", DOCS["d"])])
    lone = dict(index.search("fox", 5))["a"]
    index.add([(k, DOCS[k]) for k in ("b", "c", "e")])
    crowded = dict(index.search("fox", 5))["a"]
    assert crowded < lone  # "fox" is now in 3 of 5 chunks: lower idf
    index.remove(["b", "e"])  # corpus a, c, d: "fox" in 1 of 3
    assert index.stats().chunks == 3
    weight = float(index.r.zscore(f"{index.prefix}:t:fox", "a"))
    idf = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    assert dict(index.search("fox", 5))["a"] == pytest.approx(idf * weight, rel=1e-9)


def test_add_is_idempotent_and_remove_leaves_no_keys(index: SparseIndex, services) -> None:
    index.add(list(DOCS.items()))
    before = index.search("brown fox", 5)
    assert index.add([("a", DOCS["a"]), ("b", DOCS["b"])]) == 0  # already indexed
    assert index.search("brown fox", 5) == before
    assert index.stats().chunks == 5
    assert index.remove(["a", "b", "c", "d", "e", "missing"]) == 5
    assert index.search("brown fox", 5) == []
    st = index.stats()
    assert st.chunks == 0 and st.avgdl == 0.0
    left = list(services.redis.client.scan_iter(f"{index.prefix}:*"))
    assert left in ([], [f"{index.prefix}:total"])  # the total is 0
    assert int(services.redis.client.get(f"{index.prefix}:total") or 0) == 0


def test_collections_and_tenants_are_separate(services) -> None:
    a = SparseIndex(services.weights, "one")
    b = SparseIndex(services.weights, "two")
    other = SparseIndex(services.for_tenant("zz" + services.tenant).weights, "one")
    a.add([("x", "alpha beta")])
    assert b.search("alpha") == [] and other.search("alpha") == []
    assert [d for d, _ in a.search("alpha")] == ["x"]


def test_analyzer_stems_and_drops_stop_words() -> None:
    assert analyze("The Running foxes, and THE dogs!") == ["run", "fox", "dog"]
    assert analyze("naïve café 2024") == ["naïv", "café", "2024"]  # accents kept
    assert analyze("") == []


def test_rrf_is_weighted_and_deterministic() -> None:
    fused = rrf([["a", "b", "c"], ["c", "b", "d"]], k=60)
    assert [d for d, _ in fused] == ["c", "b", "a", "d"]  # 1/61+1/63 > 2/62
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 62)
    assert scores["a"] == pytest.approx(1 / 61) and scores["d"] == pytest.approx(1 / 63)
    only_dense = rrf([["a", "b"], ["b", "a"]], weights=[1.0, 0.0], k=1)
    assert [d for d, _ in only_dense] == ["a", "b"]
    assert rrf([["x", "x", "y"]], k=0) == [("x", 1.0), ("y", pytest.approx(1 / 3))]
    assert rrf([]) == []
    # "z" first by one list and "a" by the other: a tie, broken by the id unless told
    assert [d for d, _ in rrf([["z", "a"], ["a", "z"]])] == ["a", "z"]
    assert [d for d, _ in rrf([["z", "a"], ["a", "z"]], ties=[[0]])] == ["z", "a"]
    assert [d for d, _ in rrf([["z", "a"], ["a", "z"]], ties=[[1], [0]])] == ["a", "z"]
    with pytest.raises(ValueError):
        rrf([["a"]], weights=[1.0, 2.0])
