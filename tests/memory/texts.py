"""Texts that trip tokenizers, shared by the encoder tests (tests/memory/test_bert*.py)."""

UNUSUAL = [
    "Ünïcödé — text, with punctuation!?",
    "naïve café résumé Zürich Åsa Øystein straße İstanbul ǅ",
    "中文字符 日本語のテキスト 한국어 ЁЛКА Ελληνικά العربية हिन्दी",
    "emoji 😀🎉, the ﬁ ligature, zero\u200bwidth and non\u00a0breaking spaces",
    "don't stop-believing... 3.14 $100 e-mail@example.com [CLS] [PAD] [MASK] literal",
    "\x00\x01control\x7f characters",
]
