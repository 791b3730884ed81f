"""The frozen base model (interface; the loading code is filled in by its issue).

One ``BaseModel`` per process, shared through ``services.shared("model", …)``.
Every forward pass — scoring, generation, adapter switching — runs while holding
``BaseModel.lock``, so requests with different adapters never bleed into each other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BaseModel:
    """A loaded, frozen causal LM with its tokenizer."""

    model: Any  # transformers PreTrainedModel (later possibly wrapped by a PeftModel)
    tokenizer: Any
    name: str
    device: str = "cpu"
    load_seconds: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)
