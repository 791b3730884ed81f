"""Sentences as a reader means them: a section number, an abbreviation, an initial or a run-in
heading does not end one."""

from __future__ import annotations

from overlay.choosing.views import split_sentences

APACHE = """   6. Trademarks. This License does not grant permission to use the trade
      names, trademarks, service marks, or product names of the Licensor.

   7. Disclaimer of Warranty. Unless required by applicable law or
      agreed to in writing, Licensor provides the Work on an "AS IS" BASIS.
"""


def test_a_section_number_and_its_run_in_heading_stay_with_their_sentence() -> None:
    assert split_sentences(APACHE) == [
        "6. Trademarks. This License does not grant permission to use the trade names, "
        "trademarks, service marks, or product names of the Licensor.",
        "7. Disclaimer of Warranty. Unless required by applicable law or agreed to in writing, "
        'Licensor provides the Work on an "AS IS" BASIS.',
    ]
    mpl = '1.7. "Larger Work"\n    means a work that combines Covered Software. 1.8. "License"'
    assert split_sentences(mpl) == [
        '1.7. "Larger Work" means a work that combines Covered Software.', '1.8. "License"'
    ]  # fmt: skip


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = (
        "In 1973, Nixon named William E. Simon as head. He lived on St. Louis Street, e.g. "
        "Number 4. See Fig. 3 and the U.S. Census. Lefevre (c. 1455) wrote it. "
        "It is complete for C. The next one is v. 2.0 of it. It took (av. 2.3 mg/d) and was "
        "shown before (refs. 5,9). B. Demple and C.F. Amabile found it. M. stadtmaniae gen. nov., "
        "sp. nov. is one."
    )
    assert split_sentences(text) == [
        "In 1973, Nixon named William E. Simon as head.",
        "He lived on St. Louis Street, e.g. Number 4.",
        "See Fig. 3 and the U.S. Census.",
        "Lefevre (c. 1455) wrote it.",
        "It is complete for C.",
        "The next one is v. 2.0 of it.",
        "It took (av. 2.3 mg/d) and was shown before (refs. 5,9).",
        "B. Demple and C.F. Amabile found it.",
        "M. stadtmaniae gen. nov., sp. nov. is one.",
    ]


def test_paragraphs_list_items_and_rules_still_separate() -> None:
    text = "Mozilla Public License\n=====\n\nPreamble\n\nSteps:\n1. Open it.\n2. Click Save. Done."
    assert split_sentences(text) == [
        "Mozilla Public License", "Preamble", "Steps:", "1. Open it.", "2. Click Save.",
        "Done.",
    ]  # fmt: skip
    assert split_sentences("He left. It rained.") == ["He left.", "It rained."]
    assert split_sentences("Thanks Evan. Have a good one, see you at the gym.") == [
        "Thanks Evan.", "Have a good one, see you at the gym."
    ]  # fmt: skip
    assert split_sentences("Treatment. We may use it.\n\nPayment.\n\nWe bill.") == [
        "Treatment. We may use it.", "Payment.", "We bill."
    ]  # fmt: skip


def test_a_question_asking_what_a_term_means_prefers_the_sentence_defining_it() -> None:
    from overlay.choosing.questions import defined_term
    from overlay.choosing.views import answer_scores

    assert defined_term("In the Mozilla Public License, what is a Larger Work?") == "Larger Work"
    assert defined_term('What does "Licensable" mean?') == "Licensable"
    assert defined_term("What is Goodwill?") == "Goodwill"
    assert defined_term("In the GPL, what is the Corresponding Source?") == "Corresponding Source"
    for fact in ("What is William Rankine's nationality?", "What is the Norman idiom?",
                 "What is another term for rotors?", "What does the company do?",
                 "What is the price?"):  # fmt: skip
        assert defined_term(fact) is None
    sentences = [
        "You may create and distribute a Larger Work under terms of Your choice.",
        '1.7. "Larger Work" means a work that combines Covered Software with other material.',
    ]
    scores = answer_scores("what is a Larger Work?", sentences)
    assert scores[1] > scores[0]
    assert (
        answer_scores("who may distribute a Larger Work?", sentences)[0]
        >= (answer_scores("who may distribute a Larger Work?", sentences)[1])
    )


def test_a_closing_quote_after_the_full_stop_still_ends_the_sentence() -> None:
    text = (
        "Our stock trades under the symbol “JACK.” The following table sets forth prices. "
        'He said "I will go." Then he went. The “U.S.” Army came. She asked, “Why?” “Because,” '
        "he said. It was done (see above.) Next we go."
    )
    assert split_sentences(text) == [
        "Our stock trades under the symbol “JACK.”", "The following table sets forth prices.",
        'He said "I will go."', "Then he went.", "The “U.S.” Army came.",  # no end: an abbreviation
        "She asked, “Why?”", "“Because,” he said.", "It was done (see above.)", "Next we go.",
    ]  # fmt: skip
