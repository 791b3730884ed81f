"""How-to questions over READMEs (``answers_bench.py --howto``): 16 questions with the clause or
command that answers them and 2 the READMEs do not answer, over the long descriptions five
installed packages ship (redis-py, python-dotenv, pytest-timeout, tqdm, threadpoolctl: Markdown
and reStructuredText with code blocks, badges, directives and option lists), one collection.

A **development check**, not evidence: it was written while teaching the splitter Markdown and
RST markup (``overlay/choosing/markup.py``) and sentences that end in a colon to show what they
introduce. A package that is not installed is left out (and said so).
"""

from __future__ import annotations

from importlib import metadata

from bench.answers_texts import texts_check
from overlay.services import Services

PACKAGES = ("redis", "python-dotenv", "pytest-timeout", "tqdm", "threadpoolctl")
QUESTIONS = [
    ("How do I install redis-py?", "pip install redis"),
    ("How can I get faster response parsing in redis-py?", "install redis with hiredis support"),
    ("Which Redis versions does the latest redis-py support?",
     "Redis 7.2 and every later release"),
    ("How does redis-py manage connections by default?",
     "uses a connection pool to manage connections"),
    ("How do I receive decoded strings instead of bytes from redis-py?",
     "set decode_responses=True"),
    ("Does load_dotenv override existing environment variables?",
     "Not override existing environment variables"),
    ("How do I load a .env file without changing the environment?", "The function dotenv_values "
     "works more or less the same way as load_dotenv, except it doesn't touch the environment"),
    ("Should I commit my .env file?", "add .env to your .gitignore"),
    ("How do I set a timeout for a single test with pytest-timeout?",
     "@pytest.mark.timeout(60)"),
    ("Which environment variable sets a global timeout in pytest-timeout?", "PYTEST_TIMEOUT"),
    ("How do I disable the timeout for one test?",
     "Setting a timeout to 0 seconds disables the timeout"),
    ("What timeout method is the safest bet if one does not work?", "thread method"),
    ("How do I install tqdm with conda?", "conda install -c conda-forge tqdm"),
    ("How do I limit BLAS to one thread with threadpoolctl?",
     "threadpool_limits(limits=1, user_api='blas')"),
    ("What does python-dotenv do?", "reads key-value pairs from a .env file and can set them as "
     "environment variables"),
    ("What is the default minimum update interval of a tqdm progress bar?", "0.1"),
]  # fmt: skip
UNANSWERED = [
    "How do I configure Kafka consumers?",
    "What is the maximum file size redis-py can upload to S3?",
]


def readmes() -> dict[str, str]:
    """Each installed package's long description, as ``name.md`` / ``name.rst``."""
    out = {}
    for name in PACKAGES:
        try:
            meta = metadata.metadata(name)
        except metadata.PackageNotFoundError:
            continue
        body = meta.get_payload() or meta.get("Description") or ""  # type: ignore[attr-defined]
        kind = meta.get("Description-Content-Type") or ""
        if body.strip():
            out[f"{name}.{'md' if 'markdown' in kind else 'rst'}"] = body
    return out


def howto_check(svc: Services) -> None:
    files = readmes()
    missing = [p for p in PACKAGES if not any(f.startswith(p + ".") for f in files)]
    if missing:
        print(f"not installed (their questions still count, unanswerable): {', '.join(missing)}")
    texts_check(svc, "howto", files, QUESTIONS, UNANSWERED)
