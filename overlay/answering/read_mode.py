"""A turn's read mode: the chosen passages' best sentences read by the reader adapter (each
window judged first by ``answer.reader_judge``), or the span head's own span, widened where a
short span would cut a clause (``overlay.turn`` calls ``read_mode``)."""

from __future__ import annotations

from memory.errors import AdapterNotFound
from overlay.answering.ahead import check_reading_adapters
from overlay.answering.answers import ABSTAIN_TEXT, Draft
from overlay.answering.reading import Judge, judge_of, judge_window, read_answer, read_span
from overlay.answering.widening import widen
from overlay.choosing.fusion import Choice
from overlay.choosing.sentences import SentenceWeights, rank_sentences, sentence_candidates
from overlay.services import Services


def read_mode(services: Services, question: str, choice: Choice) -> Draft:
    """Read mode by ``answer.reader``: ``head``, the span head's own span (no decoding);
    ``span``, the reader adapter reads the chosen passages; ``adapter``, the reader adapter's
    span as it is. ``head`` and ``span`` answer a span that would cut a clause with its
    sentence (``widen``, the one widening rule)."""
    s = services.settings.answer
    if s.reader == "head" and choice.reads:
        return widen(question, read_answer(choice), s.span_widen)
    draft = read_chosen(services, question, choice)
    return widen(question, draft, s.span_widen) if s.reader == "span" else draft


def read_chosen(services: Services, question: str, choice: Choice) -> Draft:
    """Read mode: the chosen passages' sentences fused and ordered, the reader adapter
    (``settings.answer.reader_adapter``) reads the best; a request's own adapter scored the
    passages."""
    s = services.settings
    passages = [(c.hit.text, c.score, c.rank) for c in choice.chosen]
    per_passage = sentence_candidates(question, passages)
    weights = SentenceWeights(1.0, s.choose.sentence_passage_weight, s.choose.sentence_rank_weight)
    ranked = rank_sentences([c for _, cands in per_passage for c in cands], weights)
    if not ranked:  # the chosen passages are markup alone: nothing to read or cite
        return Draft(ABSTAIN_TEXT, [], kind="abstained", why="no_text")
    try:
        with services.run_model(s.answer.reader_adapter) as model:
            return read_span(
                model, services.model.tokenizer, question, ranked, [p for p, _ in per_passage],
                tries=s.answer.reader_tries, confident=s.answer.reader_confident,
                weight=s.answer.reader_weight, no_answer=s.answer.reader_no_answer,
                judge=turn_judge(services),
            )  # fmt: skip
    except AdapterNotFound:  # the settings name it, not the request: say which to change
        check_reading_adapters(services, s.answer.reader_adapter)
        raise


def turn_judge(services: Services) -> Judge | None:
    """The judge of each window the reader is shown (``reading.judge_of``), or None."""
    name = judge_of(services.settings.answer)
    if name is None:
        return None

    def judge(ids: list[int]) -> tuple[float, int]:
        with services.run_model(name) as model:  # the lock is re-entrant: the reader's holds it
            return judge_window(model, services.model.tokenizer, ids)

    return judge
