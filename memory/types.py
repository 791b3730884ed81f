"""Small value types that cross module boundaries (never a store's raw result dict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Hit:
    """One ranked result from any store: what it is, where it came from, how it scored."""

    id: str
    text: str
    score: float
    source: str = ""
    kind: str = "chunk"  # chunk | fact | turn | memory
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "text": self.text,
            "score": round(float(self.score), 6),
            "kind": self.kind,
        }


@dataclass(frozen=True)
class CollectionSize:
    """How big a collection is: the sources ingested into it and the chunks it holds."""

    sources: int
    chunks: int
