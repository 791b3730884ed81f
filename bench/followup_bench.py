"""Follow-up resolution for retrieval: hit rate of the second question of two-turn
conversations, retrieving with the question alone (naive) vs with ``retrieval_query``
(a short or referring question borrows the previous user turns), side by side.

Conversations: ``bench/data/followups.json`` (examples/docs, and 6 articles of the SQuAD 2.0
development half, one source per paragraph). Real Redis, Chroma and MiniLM; no LLM.

    python bench/followup_bench.py [--data-dir /tmp/overlay-bench-followups]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = json.loads((ROOT / "bench" / "data" / "followups.json").read_text())
SQUAD = ROOT.parent / "shared" / "data" / "squad2-dev" / "dev-v2.0.json"
ARTICLES = ("Warsaw", "Harvard_University", "Steam_engine", "1973_oil_crisis",
            "Packet_switching", "Scottish_Parliament")  # fmt: skip


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    flags = next((ln.split(":", 1)[1].split() for ln in text.splitlines() if "flags" in ln), [])
    keep = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")
    model = next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if "model name" in ln), ""
    )
    return f"{model}; " + " ".join(f for f in keep if f in flags)


def ingest(services, squad_path: Path) -> None:
    from ingest.pipeline import ingest_paths, ingest_text

    ingest_paths(services, [ROOT / "examples" / "docs"], collection="fu-docs")
    data = json.loads(squad_path.read_text())["data"]
    paragraphs = [(a["title"], i, p["context"]) for a in data if a["title"] in ARTICLES
                  for i, p in enumerate(a["paragraphs"])]  # fmt: skip
    t0 = time.perf_counter()
    for n, (title, i, text) in enumerate(paragraphs, 1):
        ingest_text(services, f"{title}#{i}", text, filename="p.txt", collection="fu-squad")
        if n % 50 == 0 or n == len(paragraphs):
            print(f"  ingested {n}/{len(paragraphs)} paragraphs ({time.perf_counter() - t0:.0f} s)")


def hits(services, query: str, collection: str, method: str) -> list[str]:
    from overlay.turn import retrieve

    ranked = retrieve(services, query, collection, k=10, method=method)
    return list(dict.fromkeys(Path(h.source).name for h in ranked))


def evaluate(services, cases: list[dict], collection: str, method: str) -> dict[str, list]:
    from overlay.choosing.followup import retrieval_query

    rows: dict[str, list] = {"followup": [], "control": []}
    for case in cases:
        *earlier, question = case["turns"]
        naive = hits(services, question, collection, method)
        resolved = hits(services, retrieval_query(question, earlier), collection, method)
        kind = "followup" if case["followup"] else "control"
        rows[kind].append((naive, resolved, case["gold"], rrf(naive, resolved)))
    return rows


def rrf(*rankings: list[str], k: int = 60) -> list[str]:
    """Reciprocal-rank fusion of ranked source lists (a variant measured here, not shipped)."""
    score: dict[str, float] = {}
    for ranking in rankings:
        for rank, source in enumerate(ranking):
            score[source] = score.get(source, 0.0) + 1.0 / (k + rank + 1)
    return sorted(score, key=lambda s: -score[s])


def rate(rows: list, which: int, k: int, topic: bool = False) -> float:
    """Share of rows whose gold is in the top ``k``; ``topic``: the gold's article (SQuAD)."""

    def key(source: str) -> str:
        return source.split("#")[0] if topic else source

    found = [key(r[2]) in [key(s) for s in r[which]][:k] for r in rows]
    return sum(found) / max(1, len(rows))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/tmp/overlay-bench-followups")
    args = ap.parse_args()
    import torch

    from overlay.services import build_services
    from overlay.settings import Settings

    torch.set_num_threads(2)
    print(f"cpu: {cpu_flags()}")
    services = build_services(Settings(data_dir=args.data_dir))
    ingest(services, SQUAD)
    head = ("hit@1 naive", "resolved", "rrf(both)", "hit@3 naive", "resolved", "topic@1 naive",
            "resolved")  # fmt: skip
    print(f"\n{'set':<14}{'method':<8}{'kind':<10}{'n':>3}  " + "  ".join(head))
    for name, collection in (("examples_docs", "fu-docs"), ("squad_dev", "fu-squad")):
        for method in ("hybrid", "dense"):
            for kind, rows in evaluate(services, CASES[name], collection, method).items():
                print(
                    f"{name:<14}{method:<8}{kind:<10}{len(rows):>3}  {rate(rows, 0, 1):11.2f}  "
                    f"{rate(rows, 1, 1):8.2f}  {rate(rows, 3, 1):9.2f}  {rate(rows, 0, 3):11.2f}  "
                    f"{rate(rows, 1, 3):8.2f}  {rate(rows, 0, 1, True):13.2f}  "
                    f"{rate(rows, 1, 1, True):8.2f}"
                )
    services.close()


if __name__ == "__main__":
    main()
