"""Spans of one sentence, the one-sentence grounding rule, and the sentence gate for streaming."""

from __future__ import annotations

import math
from typing import Any

import torch

from overlay.answering.answers import clean_citations, grounded, supported
from overlay.answering.gate import SentenceGate
from overlay.answering.reading import read_span
from overlay.answering.spans import (
    Span,
    find_span,
    near_span,
    normalize,
    one_sentence_support,
    quote_in,
    squad_normalize,
    window,
)
from overlay.choosing.sentences import rank_sentences, sentence_candidates
from overlay.model.decode import Decoding

NORMANS = [
    "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy.",
    "They were descended from Norse raiders and pirates from Denmark, Iceland and Norway.",
    "Their identity emerged initially in the first half of the 10th century.",
]
COVID = [
    "The WHO declared COVID-19 a Public Health Emergency of International Concern (PHEIC) "
    "on 30 January 2020. The outbreak was first identified in Wuhan in December 2019. "
    "By 31 March, cases had been reported in 200 countries, and the PHEIC came to an end "
    "in May 2023."
]


def test_normalize_is_squad_normalisation() -> None:
    assert normalize("The U.S.  Army, a force!") == "us army force"


def test_find_span_returns_the_sentences_own_words() -> None:
    assert find_span("10th and 11th centuries", NORMANS).text == "10th and 11th centuries"
    span = find_span("denmark, iceland and norway.", NORMANS)
    assert span is not None and span.sentence == 1 and span.text == "Denmark, Iceland and Norway"
    assert find_span("the Normans", NORMANS).text == "Normans"  # articles do not count


def test_typeset_quotes_and_apostrophes_are_punctuation_like_ascii_ones() -> None:
    stock = ["Our common stock trades on the NASDAQ Global Select Market under the symbol “TZOO.”"]
    assert find_span("TZOO", stock) == Span(0, "TZOO")  # not the whole sentence: no span
    assert find_span("“TZOO", stock) == Span(0, "TZOO")  # the quote stays outside the span
    said = ["The discussion is found under “Segment Results.” It follows."]
    assert find_span("under Segment Results", said) == Span(0, "under “Segment Results.”")
    code = ["Any item annotated with #[doc(hidden)] will not appear, nor will f(a, g(b))."]
    assert find_span("annotated with #[doc(hidden)]", code) == Span(
        0, "annotated with #[doc(hidden)]"
    )
    assert find_span("f(a, g(b))", code) == Span(0, "f(a, g(b))")  # its brackets, not the stop
    term = ["The amortization period for the Company’s customer relationships is 14.3 years."]
    span = find_span("Company's customer relationships", term)
    assert span is not None and span.text == "Company’s customer relationships"  # its own words
    assert normalize("Company’s “TZOO.”") == normalize('Company\'s "TZOO."') == "companys tzoo"
    # scoring keeps SQuAD's official rule (ASCII punctuation only), so figures stay comparable
    assert squad_normalize("“TZOO.”") == "“tzoo”" and squad_normalize("T(n)") == "tn"


def test_find_span_refuses_text_across_sentences_or_not_there() -> None:
    assert find_span("Normandy. They were descended", NORMANS) is None  # spans two sentences
    assert find_span("Vikings from Sweden", NORMANS) is None
    assert find_span("centuries gave name", NORMANS) is None  # words skipped
    assert find_span("", NORMANS) is None and find_span("...", NORMANS) is None
    assert find_span("Norm", NORMANS) is None  # whole words only


def test_quote_in_finds_a_read_sentence_as_its_passage_writes_it() -> None:
    passage = "## Cache\n\nIt is recommended to **NOT**\ndisable the cache (see below). Next."
    read = "It is recommended to NOT disable the cache (see below)."  # as split: markup out
    assert quote_in(read, passage) == "It is recommended to **NOT**\ndisable the cache (see below)."
    lower = quote_in("it is recommended to not disable the cache", passage)  # its own case
    assert lower == "It is recommended to **NOT**\ndisable the cache"
    assert quote_in("Vikings from Sweden", passage) == ""  # not there: no quote
    assert quote_in("the cache", "the caches") == ""  # whole words only
    assert quote_in("...", passage) == ""


def test_near_span_finds_a_loose_copy_in_the_sentences_own_words() -> None:
    said = ["Thanks! Everyone had a blast raising money for the kids' hospital.", "It was fun."]
    span = near_span("to raise money for the kids hospital", said)
    assert span is not None and span.sentence == 0
    assert span.text == "raising money for the kids' hospital"  # no words the reader lacked
    roses = near_span("rose and dahlias", ["The roses and dahlias bring me peace."])
    assert roses is not None and roses.text == "roses and dahlias"
    assert near_span("Vikings from Sweden", NORMANS) is None  # nothing alike
    assert near_span("raiders from Sweden and Finland", NORMANS) is None  # F1 under 0.5
    assert near_span("", NORMANS) is None


def test_window_takes_neighbours_within_bounds() -> None:
    assert window(NORMANS, 0) == NORMANS[:2]
    assert window(NORMANS, 2) == NORMANS[1:]


def test_the_covid_example_fails_the_one_sentence_rule() -> None:
    q = "When did the WHO declare the end of the COVID-19 PHEIC?"
    claim = "The WHO declared the end of the COVID-19 PHEIC on January 31, 2020 [1]"
    # every number and almost every word is somewhere in the passage ...
    assert all(n in COVID[0] for n in ("31", "2020", "19"))
    # ... but no single sentence holds "31" and "2020" together, nor the claim
    assert not one_sentence_support(claim, q, COVID)
    assert not supported(claim, q, COVID)
    assert one_sentence_support("The WHO declared a PHEIC on 30 January 2020 [1].", q, COVID)


def test_wrong_numbers_and_invented_names_fail() -> None:
    q = "Where did the Normans come from?"
    assert one_sentence_support("They came from Denmark, Iceland and Norway [1].", q, NORMANS)
    assert not one_sentence_support("They came from Denmark and Sweden under King Olaf.", q,
                                    NORMANS)  # fmt: skip
    assert not one_sentence_support("They named Normandy in the 12th century.", q, NORMANS)
    # a two-sentence answer needs each sentence supported
    two = "They were descended from Norse raiders. They founded Kyiv in 1066."
    assert not one_sentence_support(two, q, NORMANS)


def test_gate_sends_supported_sentences_and_stops_at_the_first_unsupported() -> None:
    q = "Who were the Normans?"
    sent: list[str] = []
    gate = SentenceGate(lambda s: supported(s, q, NORMANS),
                        lambda s: clean_citations(s, 1)[0], sent.append)  # fmt: skip
    text = (
        "They were descended from Norse raiders and pirates [1]. They gave their name to "
        "Normandy [1]. They invented the printing press in 1450. They came from Norway."
    )
    for i in range(0, len(text), 7):  # arbitrary decoding pieces
        gate(text[i : i + 7])
    final = gate.finish()
    assert sent and "".join(sent) == final  # nothing sent is later replaced
    assert final.startswith("They were descended") and "printing press" not in final
    assert "Norway" not in final  # everything after the first failure is dropped


def test_read_span_falls_back_to_the_best_sentence_when_the_reader_babbles(
    tiny_model: Any,
) -> None:
    q = "how many days of paid leave"
    passages = [("Every employee receives 27 days of paid annual leave. Core hours are ten.",
                 0.9, 0)]  # fmt: skip
    per = sentence_candidates(q, passages)
    ranked = rank_sentences([c for _, cs in per for c in cs])
    with torch.inference_mode():
        draft = read_span(tiny_model.model, tiny_model.tokenizer, q, ranked, [per[0][0]],
                          params=Decoding(max_new_tokens=4))  # fmt: skip
    if draft.kind == "span":  # a random model may copy a word by chance: still a real span
        assert find_span(draft.text.removesuffix(" [1]"), per[0][0]) is not None
    else:
        assert draft.kind == "fallback"
        assert draft.text == "Every employee receives 27 days of paid annual leave. [1]"
    assert draft.cited == [1] and draft.prompt_tokens > 0 and draft.completion_tokens > 0


def test_grounded_streams_exactly_its_answer(tiny_model: Any) -> None:
    sent: list[str] = []
    with torch.inference_mode():
        draft = grounded(tiny_model.model, tiny_model.tokenizer, "how many days of paid leave",
                         ["Every employee receives 27 days of paid annual leave."],
                         params=Decoding(max_new_tokens=8), on_text=sent.append)  # fmt: skip
    assert "".join(sent) == draft.text and draft.kind in ("generated", "fallback")


def _scripted_reader(
    monkeypatch: Any, replies: list[tuple[str, float]] | list[tuple[str, float, float]]
) -> list[str]:
    """Replace the reader's decode with scripted (text, log-prob[, P(no answer)]) replies;
    returns the windows it was shown, in order ("(again)" where a reply was decoded again
    with the no-answer reply ruled out first)."""
    from overlay.answering import reading
    from overlay.model.decode import Decoded

    shown: list[str] = []
    script = iter(replies)

    def fake_decode(
        model: Any, tokenizer: Any, ids: list[int], params: Any, allowed: Any = None,
        watch: tuple[int, ...] = (),
    ) -> Decoded:  # fmt: skip
        shown.append("(again)" if allowed is not None else tokenizer.decode(ids))
        text, logprob, *none = next(script)
        watched = {t: math.log(none[0]) if none else -30.0 for t in watch}
        return Decoded(text, [7] * 3, "stop", len(ids), 0.0, 0, logprob, watched)  # 3 + end

    monkeypatch.setattr(reading, "decode", fake_decode)
    return shown


def _ranked(q: str, text: str) -> tuple[list[Any], list[list[str]]]:
    """One passage's sentence candidates for ``q``, ranked, and its sentences (as read_span
    takes them)."""
    per = sentence_candidates(q, [(text, 0.9, 0)])
    return rank_sentences([c for _, cs in per for c in cs]), [per[0][0]]


def _normans_ranked() -> tuple[list[Any], list[list[str]]]:
    return _ranked("who were the normans", " ".join(NORMANS))


def test_read_span_stops_at_a_confident_first_span(monkeypatch: Any, tiny_model: Any) -> None:
    shown = _scripted_reader(monkeypatch, [("Norse raiders", -0.1 * 4)])  # -0.1 a token
    ranked, sentences = _normans_ranked()
    draft = read_span(None, tiny_model.tokenizer, "who were the normans", ranked, sentences)
    assert len(shown) == 1 and draft.kind == "span" and draft.text == "Norse raiders [1]"


def test_read_span_weighs_confidence_when_the_first_span_is_unsure(
    monkeypatch: Any, tiny_model: Any
) -> None:
    ranked, sentences = _normans_ranked()
    # (both replies are words of the middle sentence, inside every window)
    # the first span is unsure (-3 a token); the second is sure enough to outweigh the
    # first sentence's lead; the third is not a span of its window at all
    lead = ranked[0].score - ranked[1].score
    assert 0 < lead < 0.5 * (3.0 - 0.05)
    shown = _scripted_reader(
        monkeypatch, [("Norse raiders", -3.0 * 4), ("Denmark", -0.05 * 4), ("Vikings", -0.01)]
    )
    draft = read_span(None, tiny_model.tokenizer, "who were the normans", ranked, sentences,
                      tries=3, confident=-0.2, weight=0.5)  # fmt: skip
    assert len(shown) == 3
    assert draft.kind == "span" and draft.text == "Denmark [1]"
    # with no weight on confidence the best sentence's span wins again
    _scripted_reader(
        monkeypatch, [("Norse raiders", -3.0 * 4), ("Denmark", -0.05 * 4), ("Vikings", -0.01)]
    )
    draft = read_span(None, tiny_model.tokenizer, "who were the normans", ranked, sentences,
                      tries=3, confident=-0.2, weight=0.0)  # fmt: skip
    assert draft.text == "Norse raiders [1]"


APACHE = [
    "3. Grant of Patent License. Each Contributor hereby grants to You a patent license.",
    "If You institute patent litigation against any entity alleging that the Work constitutes "
    "patent infringement, then any patent licenses granted to You under this License for that "
    "Work shall terminate as of the date such litigation is filed.",
]


def test_read_span_takes_a_loosely_copied_span_in_the_sentences_own_words(
    monkeypatch: Any, tiny_model: Any
) -> None:
    q = "what happens to patent licenses if you sue someone"
    ranked, sentences = _ranked(q, " ".join(APACHE))
    assert sentences == [APACHE] and len(ranked) == 2
    shown = _scripted_reader(
        monkeypatch, [("the Work is terminated as of the date such litigation is filed", -2.0)]
    )
    draft = read_span(None, tiny_model.tokenizer, q, ranked, [APACHE], tries=3)
    # both sentences' windows are the same two sentences: read once, not twice
    assert len(shown) == 1
    assert draft.kind == "span" and draft.sentence == APACHE[1]
    assert draft.text == "terminate as of the date such litigation is filed [1]"


def test_an_exact_span_beats_a_loose_one(monkeypatch: Any, tiny_model: Any) -> None:
    ranked, sentences = _normans_ranked()
    _scripted_reader(monkeypatch, [("the Norse raiders came", -0.01), ("Denmark", -3.0 * 2)])
    draft = read_span(None, tiny_model.tokenizer, "who were the normans", ranked, sentences,
                      tries=2, confident=-0.2, weight=0.5)  # fmt: skip
    assert draft.text == "Denmark [1]"


def test_a_span_that_only_repeats_the_questions_scope_is_no_answer(
    monkeypatch: Any, tiny_model: Any
) -> None:
    court = [
        "8. Litigation. Any litigation relating to this License may be brought only in the "
        "courts of a jurisdiction where the defendant maintains its principal place of business.",
        "This Source Code Form is subject to the terms of the Mozilla Public License.",
    ]
    q = "Which court has jurisdiction over disputes under the Mozilla Public License?"
    ranked, sentences = _ranked(q, " ".join(court))
    _scripted_reader(monkeypatch, [("Mozilla Public License", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences, tries=2)
    assert draft.kind == "fallback"  # the question's own scope is not its answer
    _scripted_reader(monkeypatch, [("courts of a jurisdiction", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences, tries=2)
    assert draft.kind == "span" and draft.text == "courts of a jurisdiction [1]"


def test_a_span_that_only_points_back_is_no_answer(monkeypatch: Any, tiny_model: Any) -> None:
    lints = ["broken_intra_doc_links", "This lint warns when an intra-doc link cannot be resolved."]
    q = "Which lint warns about broken intra-doc links?"
    ranked, sentences = _ranked(q, "\n\n".join(lints))
    _scripted_reader(monkeypatch, [("This lint", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences)
    assert draft.kind == "fallback" and draft.text.startswith("This lint warns")  # the sentence
    _scripted_reader(monkeypatch, [("This lint warns when an intra-doc link cannot be", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences)
    assert draft.kind == "span"  # words the question lacks: it says something


def test_a_span_of_a_question_is_no_answer(monkeypatch: Any, tiny_model: Any) -> None:
    faq = ["Does Cargo work on Windows?", "Yes, all commits are tested on Windows."]
    q = "How do I install Cargo on Windows 95?"
    ranked, sentences = _ranked(q, " ".join(faq))
    _scripted_reader(monkeypatch, [("Windows", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences, tries=2)
    assert draft.kind == "fallback"  # not "Windows" of the question: the FAQ's answer after it
    assert draft.text == "Does Cargo work on Windows? Yes, all commits are tested on Windows. [1]"


def test_a_number_keeps_its_scale_word(monkeypatch: Any, tiny_model: Any) -> None:
    from overlay.answering.whole import whole_amount

    sentence = "The Company has a valuation allowance of $191.7 million against its assets."
    assert whole_amount("$191.7", sentence) == "$191.7 million"
    assert whole_amount("3.3", "The expected return is 3.3%.") == "3.3%"
    assert whole_amount("27", "Every employee receives 27 days of leave.") == "27"
    q = "What is the Company's valuation allowance?"
    ranked, sentences = _ranked(q, sentence)
    _scripted_reader(monkeypatch, [("$191.7", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences)
    assert draft.kind == "span" and draft.text == "$191.7 million [1]"


def test_a_number_keeps_the_word_that_bounds_it(monkeypatch: Any, tiny_model: Any) -> None:
    from overlay.answering.whole import whole_bound

    sentence = "The company distributes content in over 50 countries."
    assert whole_bound("50", sentence) == "over 50"
    assert whole_bound("13%", "It owns approximately 13% of Talespin.") == "approximately 13%"
    assert whole_bound("30 days", "Pay within 30 days of billing.") == "within 30 days"
    assert whole_bound("5", "Bring no more than 5 guests.") == "no more than 5"
    assert whole_bound("27", "Every employee receives 27 days of leave.") == "27"  # no bound
    assert whole_bound("2018", "Revenue rose $63 million over 2018.") == "2018"  # a year
    assert whole_bound("5", "Over 5 of them said 5.") == "5"  # which 5?
    assert whole_bound("Norway", "They sailed over Norway.") == "Norway"  # not a number
    q = "How many countries does the company distribute content to?"
    ranked, sentences = _ranked(q, sentence)
    _scripted_reader(monkeypatch, [("50", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences)
    assert draft.kind == "span" and draft.text == "over 50 [1]"


def test_a_part_of_a_date_is_the_whole_date(monkeypatch: Any, tiny_model: Any) -> None:
    from overlay.answering.whole import whole_date

    sentence = "The board declared the dividend on June 13, 2019, payable in July."
    assert whole_date("June 13", sentence, "When was it declared?") == "June 13, 2019"
    assert whole_date("1 March", "It began on 1 March 2020.", "When?") == "1 March 2020"
    assert whole_date("2019", sentence, "In which year was it declared?") == "2019"
    assert whole_date("July", sentence, "When is it paid?") == "July"  # no date around it
    two = "On 29 August 2019 the board said the dividend was declared on June 13, 2019."
    assert whole_date("2019", two, "When was it declared?") == "2019"  # which 2019?
    q = "When was the dividend declared in 2019?"
    ranked, sentences = _ranked(q, sentence)
    _scripted_reader(monkeypatch, [("2019", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences)
    assert draft.kind == "span" and draft.text == "June 13, 2019 [1]"


def test_a_span_loses_markup_around_it_and_brackets_its_cut_left_unmatched() -> None:
    from overlay.answering.reading import tidy

    assert tidy("*thread*") == "thread" and tidy("``PYTEST_TIMEOUT``") == "PYTEST_TIMEOUT"
    assert tidy("0.1] seconds") == "0.1 seconds" and tidy("(see below") == "see below"
    assert tidy("f(x) of [y]") == "f(x) of [y]" and tidy("$191.7 million") == "$191.7 million"
    assert tidy("under “Segment Results") == "under Segment Results"  # the quote's end was cut
    assert tidy("the “Company” and its users’ data") == "the “Company” and its users’ data"


README = ["To install redis-py, simply:", "pip install redis",
          "For faster performance, install redis with hiredis support."]  # fmt: skip


def test_a_sentence_that_ends_in_a_colon_answers_with_what_it_introduces(
    monkeypatch: Any, tiny_model: Any
) -> None:
    from overlay.answering.widening import checked, widen

    q = "How do I install redis-py?"
    ranked, sentences = _ranked(q, "\n\n".join(README))
    assert sentences == [README] and ranked[0].text == README[0]
    _scripted_reader(monkeypatch, [("it is not there at all", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, [README], tries=1)
    assert draft.kind == "fallback"
    assert draft.text == "To install redis-py, simply: pip install redis [1]"
    # a span of the announcing sentence, widened to its sentence, shows the command too
    _scripted_reader(monkeypatch, [("install redis-py", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, [README], tries=1)
    assert draft.kind == "span" and draft.follow == "pip install redis"
    assert widen(q, draft, 0.9).text == "To install redis-py, simply: pip install redis [1]"
    # a sentence that ends in a full stop is answered alone
    _scripted_reader(monkeypatch, [("hiredis support", -0.1)])
    q = "How can I get faster performance from redis?"
    ranked, _ = _ranked(q, "\n\n".join(README))
    draft = read_span(None, tiny_model.tokenizer, q, ranked, [README], tries=1)
    assert checked(q, widen(q, draft, 0.9)).text == f"{README[2]} [1]"  # type: ignore[union-attr]


def test_a_colon_that_opens_a_list_shows_its_items() -> None:
    from overlay.answering.widening import FOLLOW_WORDS, after_sentence

    said = [
        "By default, load_dotenv() will:", "- Look for a .env file.", "- Read each pair.",
        "- Not override existing variables.", "Pass override=True to override them.",
    ]  # fmt: skip
    assert after_sentence(said, 0) == (
        "- Look for a .env file. - Read each pair. - Not override existing variables."
    )
    assert (
        after_sentence(said, 3) == "Pass override=True to override them."
        and after_sentence(said, 4) == ""
    )
    long = ["Steps:", *(f"- step {i} of the install" for i in range(40))]
    assert len(after_sentence(long, 0).split()) < FOLLOW_WORDS + 6


def test_a_heading_as_an_answer_shows_the_sentence_under_it() -> None:
    from overlay.answering.answers import Draft
    from overlay.answering.widening import after_sentence, whole_sentence

    under = "The function dotenv_values returns a dict and does not touch the environment."
    heading = Draft("", [1], sentence="Load configuration without altering the environment",
                    follow=under)  # fmt: skip
    assert whole_sentence(heading) == f"{heading.sentence}: {under}"
    done = Draft("", [1], sentence="It returns a dict.", follow=under)
    assert whole_sentence(done) == "It returns a dict."
    titled = Draft("", [1], sentence="Halvorsen Instruments — Product Line", follow=under)
    assert whole_sentence(titled) == f"{titled.sentence}: {under}"  # a dash between its parts
    item = Draft("", [1], sentence="- Hashes are required for all requirements.")
    assert whole_sentence(item) == "Hashes are required for all requirements."  # no bullet
    faq = ["Does Cargo work on Windows?", "Yes!", "All commits are tested on Windows.",
           "Why do binaries have Cargo.lock?", "To build the same way."]  # fmt: skip
    asked = Draft("", [1], sentence=faq[0], follow=after_sentence(faq, 0))
    assert (
        whole_sentence(asked)
        == "Does Cargo work on Windows? Yes! All commits are tested on Windows."
    )
    alone = Draft("", [1], sentence="Load configuration")
    assert whole_sentence(alone) == "Load configuration"
    command = Draft("", [1], sentence="conda install -c conda-forge tqdm",
                    follow="Latest Snapcraft release")  # fmt: skip
    assert whole_sentence(command) == "conda install -c conda-forge tqdm"  # code, no heading


def test_a_section_number_is_no_answer(monkeypatch: Any, tiny_model: Any) -> None:
    manual = ["3.3 Invoking asn1Decoding asn1Decoding generates an ASN.1 structure from a file.",
              "It reads DER."]  # fmt: skip
    q = "What is the default timeout of asn1Decoding?"
    ranked, sentences = _ranked(q, " ".join(manual))
    _scripted_reader(monkeypatch, [("3.3", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences, tries=1)
    assert draft.kind == "fallback"  # "3.3" numbers the section
    _scripted_reader(monkeypatch, [("an ASN.1 structure", -0.1)])
    draft = read_span(None, tiny_model.tokenizer, q, ranked, sentences, tries=1)
    assert draft.kind == "span" and draft.text == "ASN.1 structure [1]"


def _none_tokenizer() -> Any:
    """A word tokenizer that holds the reader's no-answer reply as one token."""
    from tests.adapters_tiny import word_tokenizer

    words = "<pad> <unk> <s> </s> none who were the normans norse raiders denmark".split()
    template = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"
    return word_tokenizer(words, bos="<s>", eos="</s>", chat_template=template)


def test_the_no_answer_reply_is_one_known_token(tiny_model: Any) -> None:
    from overlay.answering.reading import no_answer_id

    tok = _none_tokenizer()
    assert no_answer_id(tok) == tok.convert_tokens_to_ids("none")
    assert no_answer_id(tiny_model.tokenizer) is None  # "none" is its unknown word: not a reply


def test_a_window_the_reader_says_does_not_answer_gives_no_answer(monkeypatch: Any) -> None:
    from overlay.answering.answers import ABSTAIN_TEXT

    tok, q = _none_tokenizer(), "who were the normans"
    ranked, sentences = _normans_ranked()
    shown = _scripted_reader(monkeypatch, [("none", -0.1, 0.9)])
    draft = read_span(None, tok, q, ranked, sentences, no_answer=0.5)
    assert len(shown) == 1 and draft.kind == "abstained" and draft.cited == []
    assert draft.text == ABSTAIN_TEXT and draft.prompt_tokens > 0
    # the same reply under a threshold it does not pass: the best sentence, as without it
    _scripted_reader(monkeypatch, [("none", -0.1, 0.9), ("", -5.0)])
    draft = read_span(None, tok, q, ranked, sentences, no_answer=0.95)
    assert draft.kind == "fallback" and draft.cited == [1]


def test_an_unsure_no_answer_reply_is_read_again_without_it(monkeypatch: Any) -> None:
    tok, q = _none_tokenizer(), "who were the normans"
    ranked, sentences = _normans_ranked()
    shown = _scripted_reader(monkeypatch, [("none", -0.9, 0.4), ("Norse raiders", -2.0)])
    draft = read_span(None, tok, q, ranked, sentences, no_answer=0.5)
    assert shown[1:] == ["(again)"] and draft.kind == "span"
    assert draft.text == "Norse raiders [1]"


def test_a_later_window_still_answers_when_the_first_does_not(monkeypatch: Any) -> None:
    tok, q = _none_tokenizer(), "who were the normans"
    ranked, sentences = _ranked(q, " ".join(NORMANS + APACHE))
    first, second = (window(sentences[0], c.index) for c in ranked[:2])
    assert first != second
    reply = " ".join(second[-1].split()[1:3])  # two words of the second window only
    assert all(reply not in s for s in first)
    shown = _scripted_reader(monkeypatch, [("none", -0.1, 0.8), (reply, -0.5, 0.01)])
    draft = read_span(None, tok, q, ranked, sentences, tries=2, confident=-0.2, no_answer=0.5)
    assert len(shown) == 2 and draft.kind == "span" and draft.text == f"{reply} [1]"


def test_a_judge_that_says_a_window_does_not_answer_spares_the_reader(monkeypatch: Any) -> None:
    from overlay.answering.answers import ABSTAIN_TEXT

    tok, q = _none_tokenizer(), "who were the normans"
    ranked, sentences = _normans_ranked()
    judged: list[list[int]] = []

    def judge(p_none: float) -> Any:
        def verdict(ids: list[int]) -> tuple[float, int]:
            judged.append(ids)
            return p_none, 11

        return verdict

    shown = _scripted_reader(monkeypatch, [("Norse raiders", -0.1)])
    draft = read_span(None, tok, q, ranked, sentences, no_answer=0.9, judge=judge(0.95))
    assert shown == [] and len(judged) == 1  # the reader never decoded
    assert draft.kind == "abstained" and draft.text == ABSTAIN_TEXT and draft.prompt_tokens == 11
    assert draft.why == "judged"  # the turn's abstained_by
    # a judge under the threshold: the reader reads the same prompt the judge was shown
    draft = read_span(None, tok, q, ranked, sentences, no_answer=0.9, judge=judge(0.85))
    assert shown == [tok.decode(judged[1])] and draft.kind == "span" and draft.why == ""
    assert draft.text == "Norse raiders [1]" and draft.prompt_tokens == 11 + len(judged[1])


def test_decode_reports_the_first_steps_log_probs_of_watched_tokens(tiny_model: Any) -> None:
    from overlay.model.decode import decode

    tok = tiny_model.tokenizer
    ids = tok("who founded the company ?", add_special_tokens=False)["input_ids"]
    every = tuple(range(len(tok)))
    out = decode(tiny_model.model, tok, ids, Decoding(max_new_tokens=2), watch=every)
    assert set(out.watched) == set(every)
    assert math.isclose(sum(math.exp(v) for v in out.watched.values()), 1.0, rel_tol=1e-4)
    greedy = max(out.watched, key=out.watched.__getitem__)
    assert (out.token_ids or [3])[0] == greedy  # the greedy first token (or the end token)
    assert decode(tiny_model.model, tok, ids, Decoding(max_new_tokens=2)).watched == {}
