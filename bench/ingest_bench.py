"""Ingestion throughput: the whole pipeline against the raw embedder on the same chunks.

Takes the first ``--docs`` abstracts of SciFact as one JSONL file, splits them
exactly as the pipeline does, times the bare embedder on those chunk texts
(same batches), then times ``ingest_paths`` end to end (load, split, embed,
Chroma upsert, BM25 postings, manifest) into a fresh data dir. Target: the
pipeline's overhead over the raw embedder at most 15 %.

    python bench/ingest_bench.py [--docs 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "scifact"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    args = ap.parse_args()

    import torch

    from ingest.loaders import load
    from ingest.pipeline import ingest_paths
    from ingest.split import Splitter
    from ingest.writer import BATCH
    from overlay.services import build_services
    from overlay.settings import Settings

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="overlay-ingest-bench-"))
    lines = DATA.joinpath("corpus.jsonl").read_text().splitlines()[: args.docs]
    src = tmp / "slice.jsonl"
    src.write_text("\n".join(json.dumps(json.loads(x)) for x in lines) + "\n")

    services = build_services(Settings(data_dir=tmp / "data"))
    s, emb = services.settings, services.embedder
    emb.embed(["warm up the model"] * 8)
    services.redis.ping()  # start the embedded servers outside the timed part
    services.vectors("bench").count()
    kind, sections = load(src.read_bytes(), src.name)
    chunks = Splitter(
        emb.count_tokens, emb.max_tokens, s.ingest.chunk_size, s.ingest.chunk_overlap
    ).split(str(src), kind, sections)
    texts = [c.text for c in chunks]

    t0 = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        emb.embed(texts[i : i + BATCH])
    raw_s = time.perf_counter() - t0

    report = ingest_paths(services, [src], collection="bench")
    assert report.failed == 0 and report.chunks_written == len(chunks), report.to_dict()
    pipe_s = report.seconds
    raw_rate, pipe_rate = len(texts) / raw_s, len(texts) / pipe_s
    print(f"{args.docs} docs -> {len(texts)} chunks (chunk size {s.ingest.chunk_size} tokens)")
    print(f"{'':<22}{'seconds':>9}{'chunks/s':>10}")
    print(f"{'raw embedder':<22}{raw_s:9.1f}{raw_rate:10.2f}")
    print(f"{'ingest pipeline':<22}{pipe_s:9.1f}{pipe_rate:10.2f}")
    print(
        f"pipeline / raw time: {pipe_s / raw_s:.3f}  (overhead {100 * (pipe_s / raw_s - 1):.1f} %,"
        " target <= 15 %)"
    )
    services.close()


if __name__ == "__main__":
    main()
