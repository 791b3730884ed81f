"""What an adapter changes on one prompt (``overlay adapters diff NAME --prompt TEXT``).

Compares the base and the adapter on the same input: the KL divergence between
their next-token distributions, the tokens whose probability rose and fell most,
the greedy continuations of both, and the shift in attention entropy per layer
and head (eager attention is switched on for the measurement, then restored).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from memory.errors import InvalidInput
from overlay.adapters.registry import AdapterRegistry


@dataclass(frozen=True)
class TokenShift:
    token: str
    p_base: float
    p_adapter: float

    @property
    def delta(self) -> float:
        return self.p_adapter - self.p_base


@dataclass
class DiffReport:
    """Base vs adapter on one prompt. Entropies are in nats, shaped (layers, heads)."""

    adapter: str
    prompt: str
    kl: float  # KL(adapter ‖ base) of the next-token distribution, nats
    rose: list[TokenShift]
    fell: list[TokenShift]
    base_text: str
    adapter_text: str
    entropy_base: list[list[float]] = field(default_factory=list)
    entropy_adapter: list[list[float]] = field(default_factory=list)

    @property
    def continuation_changed(self) -> bool:
        return self.base_text != self.adapter_text

    @property
    def entropy_shift(self) -> list[list[float]]:
        return [
            [a - b for a, b in zip(ra, rb, strict=True)]
            for ra, rb in zip(self.entropy_adapter, self.entropy_base, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("rose", "fell"):
            data[key] = [{**asdict(t), "delta": t.delta} for t in getattr(self, key)]
        data["continuation_changed"] = self.continuation_changed
        data["entropy_shift"] = self.entropy_shift
        return data


def _encode(tokenizer: Any, prompt: str, chat: bool) -> Any:
    if chat and getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(str(text), return_tensors="pt", add_special_tokens=False)
    return tokenizer(prompt, return_tensors="pt")


def _measure(model: Any, inputs: Any, max_new_tokens: int) -> tuple[Any, list[list[float]], Any]:
    """Next-token log-probs (vocab,), attention entropy (layers, heads), greedy token ids."""
    import torch

    with torch.no_grad():
        out = model(**inputs, output_attentions=True)
        logp = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # (vocab,)
        entropy = []
        for att in out.attentions:  # each (1, heads, T, T)
            ent = -(att[0] * torch.log(att[0].clamp_min(1e-12))).sum(-1)  # (heads, T)
            entropy.append(ent.mean(-1).tolist())  # mean over query positions
        gen = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=_pad(model),
        )  # fmt: skip
    return logp, entropy, gen[0, inputs["input_ids"].shape[1] :]


def _pad(model: Any) -> int | None:
    cfg = model.generation_config
    pad = cfg.pad_token_id if cfg.pad_token_id is not None else cfg.eos_token_id
    return pad[0] if isinstance(pad, list) else pad


def _shifts(tokenizer: Any, lp_base: Any, lp_adapter: Any, top: int) -> tuple[list, list]:
    import torch

    p_base, p_ad = lp_base.exp(), lp_adapter.exp()
    delta = p_ad - p_base  # (vocab,)
    k = min(top, delta.numel())

    def rows(idx: torch.Tensor) -> list[TokenShift]:
        return [
            TokenShift(tokenizer.decode([i]), float(p_base[i]), float(p_ad[i]))
            for i in idx.tolist()
        ]

    return rows(torch.topk(delta, k).indices), rows(torch.topk(-delta, k).indices)


def diff_adapter(
    registry: AdapterRegistry,
    name: str,
    prompt: str,
    top: int = 10,
    max_new_tokens: int = 24,
    chat: bool = True,
) -> DiffReport:
    """Run base and adapter ``name`` on ``prompt`` and report what changed."""
    if not prompt.strip():
        raise InvalidInput("the prompt is empty")
    tokenizer = registry.base.tokenizer
    inputs = _encode(tokenizer, prompt, chat)
    registry.load(name)
    with registry.base.lock:
        model = registry.base.model
        before = model.config._attn_implementation
        model.set_attn_implementation("eager")
        try:
            with registry.activate(None) as m:
                lp_base, ent_base, gen_base = _measure(m, inputs, max_new_tokens)
            with registry.activate(name) as m:
                lp_ad, ent_ad, gen_ad = _measure(m, inputs, max_new_tokens)
        finally:
            model.set_attn_implementation(before)
    kl = float((lp_ad.exp() * (lp_ad - lp_base)).sum())
    rose, fell = _shifts(tokenizer, lp_base, lp_ad, top)
    return DiffReport(
        name, prompt, max(kl, 0.0), rose, fell,
        tokenizer.decode(gen_base, skip_special_tokens=True),
        tokenizer.decode(gen_ad, skip_special_tokens=True),
        ent_base, ent_ad,
    )  # fmt: skip


def plot_diff(report: DiffReport, path: Path) -> Path:
    """Heatmap of the attention-entropy shift beside the probability shifts, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shift = report.entropy_shift
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, max(4, len(shift) * 0.25 + 2)))
    vmax = max((abs(v) for row in shift for v in row), default=1.0) or 1.0
    im = ax1.imshow(shift, aspect="auto", cmap="coolwarm", vmin=-vmax, vmax=vmax)
    ax1.set(xlabel="head", ylabel="layer", title="attention entropy shift (nats)")
    fig.colorbar(im, ax=ax1)
    tokens = report.rose[::-1][-8:] + report.fell[:8][::-1]
    ax2.barh(
        [repr(t.token) for t in tokens],
        [t.delta for t in tokens],
        color=["tab:red" if t.delta < 0 else "tab:green" for t in tokens],
    )
    ax2.set(xlabel="p(adapter) − p(base)", title=f"next token, KL = {report.kl:.3f} nats")
    fig.suptitle(f"adapter {report.adapter!r}: {report.prompt[:60]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
