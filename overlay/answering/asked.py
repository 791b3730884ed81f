"""What kind of answer a question asks for, and whether an answer is of that kind.

A read span that is the wrong kind of thing is a wrong answer however confident the reader was:
"How much does the Kestrel K-9 cost?" is not answered by "640 grams" (a weight), "When …" not by
a name, "How many …" not by a word with no number in it. ``fits`` is deliberately narrow: it
only rejects what cannot be right (a price with no money in it, a count with no number, a date
with no time in it, a length of time that is a day: "How long did it take?" is not answered
"last Thursday"), so an answer of an unexpected but possible form ("free", "a dozen", "last
spring") passes.
"""

from __future__ import annotations

import re

from overlay.choosing.questions import question_core

_NUMBER_WORDS = (
    r"zero|none|no|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|scores|"
    r"half|once|twice|single|double|triple|both|several|few|many|much|all|every|each|some|"
    r"most|multiple|numerous|countless|lots?|pair|couple|"
    r"(?:thir|four|fif|six|seven|eigh|nine)teen|(?:twen|thir|for|fif|six|seven|eigh|nine)ty"
)
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.IGNORECASE)
_MONEY = re.compile(
    r"[$€£¥₹₩₽¢]|\b(?:usd|eur|gbp|nok|sek|dkk|chf|jpy|cny|rmb|inr|aud|cad|kr|dollars?|euros?|"
    r"pounds?|pence|cents?|yen|yuan|francs?|kron[aeo]r?|rupees?|free|nothing|"
    r"(?:no|without)\s+(?:cost|fee|charge))\b",
    re.IGNORECASE,
)
# a number with a unit that is not money: "640 grams" is no price
_MEASURE = re.compile(
    r"\d[\d.,]*\s*(?:%|°|percent|per\s+cent|(?:milli|kilo)?(?:grams?|met(?:re|er)s?)|mg|g|kg|"
    r"tonnes?|tons?|ounces?|oz|lbs?|m|cm|mm|km|miles?|feet|foot|ft|inch(?:es)?|(?:milli)?"
    r"lit(?:re|er)s?|ml|l|degrees?|seconds?|minutes?|hours?|days?|weeks?|months?|years?|people|"
    r"persons?|employees?|staff|volts?|v|watts?|w|kw|hz|mph|km/h)\b",
    re.IGNORECASE,
)
_TIME = re.compile(
    r"\d|\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|(?:mon|tues|wednes|thurs|fri|"
    r"satur|sun)days?|today|yesterday|tomorrow|tonight|mornings?|afternoons?|evenings?|nights?|"
    r"noon|midnight|weeks?|weekends?|months?|years?|decades?|century|centuries|spring|summer|"
    r"autumn|fall|winter|ago|before|after|since|until|till|during|when|whenever|while|once|"
    r"now|then|recently|soon|later|early|earlier|late|annually|daily|weekly|monthly|yearly|"
    r"quarterly|periodically|regularly|period|era|age|times?|seconds?|minutes?|hours?|beginning|"
    r"start|end|long|necessary|needed|required|indefinitely|permanently|forever|immediately|"
    r"promptly|if|where|unless|upon|provided|first|second|third|fourth|fifth|sixth|seventh|"
    r"eighth|ninth|tenth|eleventh|twelfth|[a-z]+teenth|[a-z]+tieth)\b",
    re.IGNORECASE,
)
# a plain amount ("0.9", "1,200"), not a part of a name or code ("T-40", "K9")
_AMOUNT = re.compile(r"(?<![\w.,/-])\d[\d.,]*(?![\w/-])")
# the kind a question asks for, by its opening words
_PRICE = re.compile(
    r"^\s*(?:how\s+much\b.*\b(?:cost|costs|costed|charge|charges|charged|pay|paid|spend|"
    r"spent|price|priced|fee)\b|what\s+(?:is|was|are|were)\s+the\s+(?:price|cost|fee)s?\s+of)",
    re.IGNORECASE,
)
_COUNT = re.compile(r"^\s*how\s+(?:many|old)\b", re.IGNORECASE)
_WHEN = re.compile(
    r"^\s*(?:when\s+(?:did|was|were|is|are|does|do|will|would|had|has|have)\b|how\s+long\s+"
    r"ago\b|(?:what|which)\s+(?:year|date|day|month|decade|century|time)\s+(?:of\s+the\s+"
    r"\w+\s+)?(?:is|was|were|are|did|does|do|will|would|had|has|have)\b|in\s+(?:what|"
    r"which)\s+(?:year|month|decade|century)\b)",
    re.IGNORECASE,
)

_HOW_LONG = re.compile(r"^\s*how\s+(?:long(?!\s+ago\b)|often)\b", re.IGNORECASE)
# a length of time or how often: "six months", "as long as necessary", "twice a week", "weekly"
_DURATION = re.compile(
    r"\b(?:seconds?|minutes?|hours?|days?|nights?|weeks?|weekends?|months?|years?|decades?|"
    r"centur(?:y|ies)|lifetime|life|term|period|while|long|longer|necessary|needed|required|"
    r"indefinitely|permanently|forever|until|till|unless|since|after|before|annually|daily|"
    r"nightly|weekly|monthly|yearly|quarterly|hourly|regularly|periodically|always|never|often|"
    r"rarely|sometimes|occasionally|frequently|every|each|per|whenever|once|twice|soon|"
    r"immediately|promptly|overnight)\b",
    re.IGNORECASE,
)


def asks_for(question: str) -> str | None:
    """``"price"``, ``"number"``, ``"duration"``, ``"time"`` or None (anything may answer)."""
    question = question_core(question)
    if _PRICE.search(question):
        return "price"
    if _HOW_LONG.search(question):
        return "duration"
    if _WHEN.search(question):
        return "time"
    if _COUNT.search(question):
        return "number"
    return None


def fits(question: str, answer: str) -> bool:
    """Whether ``answer`` can be the kind of thing ``question`` asks for (see the module)."""
    kind = asks_for(question)
    if kind == "price":
        bare = _AMOUNT.search(_MEASURE.sub(" ", answer)) is not None
        return bool(_MONEY.search(answer)) or bare
    if kind == "number":
        return bool(_NUMBER.search(answer))
    if kind == "duration":
        return bool(_DURATION.search(answer) or _NUMBER.search(answer))
    if kind == "time":
        return bool(_TIME.search(answer) or _NUMBER.search(answer))
    return True
