"""How-to questions over READMEs and manuals (``answers_bench.py --howto``): 34 questions with
the clause or command that answers them and 5 the texts do not answer, over one collection:

- the long descriptions five installed packages ship (redis-py, python-dotenv, pytest-timeout,
  tqdm, threadpoolctl): Markdown and reStructuredText with code blocks, badges, directives;
- two PDF manuals Debian ships (the shared-mime-info specification and the libtasn1 manual):
  running headers, page numbers, bullets and lines wrapped anywhere;
- two HTML pages Debian ships (its Python policy, built by Sphinx, and zlib's annotated usage
  example): navigation, permalink marks, code between paragraphs.

A **development check**, not evidence: it was written while teaching the splitter Markdown and
RST markup (``overlay/choosing/markup.py``), PDF page furniture (``ingest/formats.py``) and
sentences that end in a colon or are headings to show what they introduce. A package or a PDF
that is not on the machine is left out (and said so; its questions then count as missed).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from bench.answers_texts import texts_check
from overlay.services import Services

PACKAGES = ("redis", "python-dotenv", "pytest-timeout", "tqdm", "threadpoolctl")
PDFS = (
    Path("/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"),
    Path("/usr/share/doc/libtasn1-doc/libtasn1.pdf"),
)
HTMLS = (  # a Sphinx-built policy and a how-to with C code between its paragraphs
    Path("/usr/share/doc/python3/python-policy.html"),
    Path("/usr/share/doc/zlib1g-dev/examples/zlib_how.html"),
)
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
    ("What must an application run after installing its XML file?",
     "the update-mime-database command"),
    ("What is the default weight of a glob pattern?", "50"),
    ("What is the maximum glob weight?", "100"),
    ("Should globs be matched case-sensitively?", "Applications MUST match globs "
     "case-insensitively, except when the case-sensitive attribute is set to true"),
    ("Which pattern wins when several of the same weight match?",
     "the longest pattern SHOULD be used"),
    ("In what byte order are numbers stored in the cache file?", "network (big-endian) order"),
    ("How must cache files be written?",
     "atomically - write to a temporary name, then move over the old file"),
    ("Can an application trust a file based on its MIME type?",
     "an application MUST NOT trust a file based simply on its MIME type"),
    ("What does asn1Coding do?", "generates a DER encoding from a file with ASN.1 definitions"),
    ("Under what licence is the libtasn1 library distributed?",
     "GNU Lesser General Public License version 2.1 or later"),
    ("What is the default priority of a magic rule?", "50"),
    ("What must the main binary package of a Python version be called?", "pythonX.Y"),
    ("Where must public Python 3 modules be installed?", "/usr/lib/python3/dist-packages"),
    ("May Debian packages provide wheels?", "packages must not build or provide wheels"),
    ("What prefix must the binary package of a public Python 3 module have?", "python3-"),
    ("What buffer size should be used with zlib if memory is available?",
     "on the order of 128K or 256K bytes"),
    ("What compression level is Z_DEFAULT_COMPRESSION equivalent to?", "level 6"),
    ("What is the range of the zlib compression level?", "-1 to 9"),
]  # fmt: skip
UNANSWERED = [
    "How do I configure Kafka consumers?",
    "What is the maximum file size redis-py can upload to S3?",
    "How do I register a MIME type on Windows?",
    "What is the default timeout of asn1Decoding?",
    "How do I uninstall Python on macOS?",
]


def readmes() -> dict[str, str | bytes]:
    """Each installed package's long description, as ``name.md`` / ``name.rst``."""
    out: dict[str, str | bytes] = {}
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
    for doc in (*PDFS, *HTMLS):
        if doc.is_file():
            files[doc.name] = doc.read_bytes()
        else:
            missing.append(str(doc))
    if missing:
        print(f"not on this machine (their questions count as missed): {', '.join(missing)}")
    texts_check(svc, "howto", files, QUESTIONS, UNANSWERED)
