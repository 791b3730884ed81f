"""README and how-to markup as a reader sees it: code blocks without fences or prompts, RST
directives, badges and link targets gone, "::" a colon."""

from __future__ import annotations

from overlay.choosing.markup import plain
from overlay.choosing.views import query_view, split_sentences, window_view

REDIS = """## Installation

To install redis-py, simply:

``` bash
$ pip install redis
```

For faster performance, install redis with hiredis support.
"""

PYTEST_TIMEOUT = """pytest-timeout
==============

|python| |version| |ci|

.. |version| image:: https://img.shields.io/pypi/v/pytest-timeout.svg
  :target: https://pypi.python.org/pypi/pytest-timeout

Install is as simple as e.g.::

   pip install pytest-timeout

Furthermore you can also use a decorator to set the timeout for an individual test:

.. code:: python

   @pytest.mark.timeout(60)
   def test_foo():
       pass

__ https://docs.pytest.org/en/latest/reference.html#ini-options-ref
.. _marker: https://docs.pytest.org/en/latest/mark.html
"""


def test_a_fenced_code_block_is_its_code_without_fences_or_prompt() -> None:
    assert split_sentences(REDIS) == [
        "Installation",
        "To install redis-py, simply:",
        "pip install redis",
        "For faster performance, install redis with hiredis support.",
    ]


def test_rst_directives_badges_and_link_targets_are_no_sentences() -> None:
    assert split_sentences(PYTEST_TIMEOUT) == [
        "pytest-timeout",
        "Install is as simple as e.g.:",
        "pip install pytest-timeout",
        "Furthermore you can also use a decorator to set the timeout for an individual test:",
        "@pytest.mark.timeout(60) def test_foo(): pass",
    ]


def test_a_tilde_underline_is_a_title_not_a_fence() -> None:
    text = "Latest Conda release\n~~~~~~~~~~~~~~~~~~~~\n\n.. code:: sh\n\n    conda install tqdm\n"
    assert split_sentences(text) == ["Latest Conda release", "conda install tqdm"]
    fenced = "Run:\n\n~~~ sh\nmake test\n~~~\n\nDone."
    assert split_sentences(fenced) == ["Run:", "make test", "Done."]


def test_a_fence_cut_from_its_pair_is_dropped_and_plain_text_is_untouched() -> None:
    assert split_sentences("Use it so:\n\n```python\nimport os\nos.getenv('A')") == [
        "Use it so:", "import os os.getenv('A')"
    ]  # fmt: skip
    prose = "A policy. It says | this | and that.. Really: yes."
    assert plain(prose) == prose
    fields = "Arguments:\n:param timeout: seconds to wait\n"  # a field list is content
    assert plain(fields) == fields


def test_a_chunk_of_markup_alone_still_has_a_view() -> None:
    text = ".. |a| image:: https://x.org/a.svg\n  :target: https://x.org\n" * 40

    def count(s: str) -> int:
        return len(s.split())

    assert split_sentences(text) == []
    assert window_view("what is a", text, 16, count)
    assert query_view("what is a", text, 16, count)


def test_a_markdown_link_is_its_text_and_badges_and_link_definitions_are_dropped() -> None:
    readme = (
        "[![CI](https://x.org/ci.svg?branch=main)](https://x.org/ci)\n\n"
        "[Installation](#installation) | [Usage](#usage)\n\n"
        'See the [migration guide](https://x.org/guide "Guide") for more.\n\n'
        "[#456]: https://x.org/issues/456\n"
    )
    assert split_sentences(readme) == ["Installation | Usage", "See the migration guide for more."]


def test_a_passage_of_markup_alone_offers_no_sentence_to_answer_with() -> None:
    from overlay.choosing.sentences import sentence_candidates

    links = "[#456]: https://x.org/issues/456\n[#466]: https://x.org/issues/466\n"
    (none, no_cands), (said, cands) = sentence_candidates(
        "what does it do", [(links, 0.9, 0), ("It reads a .env file.", 0.5, 1)]
    )
    assert none == [] and no_cands == []
    assert said == ["It reads a .env file."] and [c.passage for c in cands] == [1]


PIP_CACHING = """# Caching

pip provides an on-by-default caching, designed to reduce network use.

```{note}
:class: tip
Wheels built from source are cached too.
```

It is, however, recommended to **NOT** disable pip's caching. Hashes are required for _all_
requirements. Editable installs: see {ref}`editable mode <editable-installs>` and :doc:`the
guide` (file {file}`pip.conf`).

```{toctree}
:maxdepth: 1
getting-started
installation
```

```{tab} Windows
Use py -m pip.
```

```python
def __init__(self): pass
```
"""


def test_myst_roles_prose_directives_and_emphasis_are_read_as_text() -> None:
    assert split_sentences(PIP_CACHING) == [
        "Caching",
        "pip provides an on-by-default caching, designed to reduce network use.",
        "Wheels built from source are cached too.",  # a note's prose, its option gone
        "It is, however, recommended to NOT disable pip's caching.",
        "Hashes are required for all requirements.",
        "Editable installs: see editable mode and the guide (file pip.conf).",
        "Windows: Use py -m pip.",  # a tab's title leads its prose; no table of contents
        "def __init__(self): pass",  # code keeps its underscores
    ]  # fmt: skip
    assert plain("keep my_var_name, *.txt, `__init__` and 5 * 3") == (
        "keep my_var_name, *.txt, `__init__` and 5 * 3"
    )
    assert plain("the [netrc module][netrc-std-lib], [x](http://a), a[0][1]") == (
        "the netrc module, x, a[0][1]"  # a reference link is its text too; indexes stay
    )
    # a chunk that opens on the fence closing a tab cut from it: the next tab is still prose
    cut = "Site\n: x\n```\n\n```{tab} Windows\n\nGlobal\n: C:/pip.ini\n```\n\nAfter."
    assert split_sentences(cut) == ["Site : x", "Windows:", "Global : C:/pip.ini", "After."]


CARGO = """Let's compile it:

```console
$ cargo build --release
   Compiling hello_world v0.1.0 (file:///path/to/package/hello_world)
$ pip install \\
    redis
```

Then run it.
"""


def test_a_console_session_is_its_commands_apart_from_their_output() -> None:
    assert split_sentences(CARGO) == [
        "Let's compile it:",
        "cargo build --release",
        "Compiling hello_world v0.1.0 (file:///path/to/package/hello_world)",
        "pip install redis",  # a command that goes on ("\\") is one
        "Then run it.",
    ]
    cut = "Run:\n\n```console\n$ pip install x\nCollecting x\n```{note}\nA note.\n```"
    assert split_sentences(cut) == ["Run:", "pip install x", "Collecting x", "A note."]
    code = "```python\nx = 1\n\ny = 2\n```"  # no prompt: the block is one paragraph, as before
    assert split_sentences(code) == ["x = 1 y = 2"]


def test_a_text_cut_inside_a_code_block_opens_with_its_code() -> None:
    cut = (  # a chunk that opens in a block: its first fence closes, the next one opens
        "1 directory, 2 files\n\n```\n\nLet's look at Cargo.toml:\n\n```toml\n[package]\n"
        'name = "hello"\n```\n\nThis is a manifest.'
    )
    assert split_sentences(cut) == [
        "1 directory, 2 files",
        "Let's look at Cargo.toml:",
        '[package] name = "hello"',
        "This is a manifest.",
    ]
    # two bare fences, or a MyST directive next: nothing says the text opened in a block
    assert split_sentences("Run:\n\n```\nmake\n```\n\nDone.") == ["Run:", "make", "Done."]
    note = "Intro.\n\n```\ncode\n```\n\n```{note}\nA note.\n```"
    assert split_sentences(note) == ["Intro.", "code", "A note."]
