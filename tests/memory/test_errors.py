"""The exception tree drawn in ``memory.errors``' docstring is the tree the classes form."""

from __future__ import annotations

import re

from memory import errors

_ROW = re.compile(
    r"^    (?P<indent>[│├└─\s]*)(?P<name>[A-Za-z]+)\s+(?P<status>\d{3})\s+(?P<type>\w+)"
)


def _drawn() -> dict[str, tuple[str | None, int, str]]:
    """Class name → (parent drawn above it, status, type), read from the docstring."""
    assert errors.__doc__ is not None
    rows: dict[str, tuple[str | None, int, str]] = {}
    parents: list[str] = []
    for line in errors.__doc__.splitlines():
        m = _ROW.match(line)
        if not m:
            continue
        depth = len(m["indent"]) // 4
        del parents[depth:]
        rows[m["name"]] = (parents[-1] if parents else None, int(m["status"]), m["type"])
        parents.append(m["name"])
    return rows


def _classes() -> dict[str, type[errors.OverlayError]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.OverlayError)
    }


def test_the_docstring_draws_every_class_with_its_parent_status_and_type() -> None:
    drawn, classes = _drawn(), _classes()
    assert set(drawn) == set(classes) and len(classes) >= 12
    for name, cls in classes.items():
        parent, status, type_ = drawn[name]
        base = cls.__bases__[0].__name__ if cls is not errors.OverlayError else None
        assert (parent, status, type_) == (base, cls.status_code, cls.type), name


def test_every_error_keeps_its_message_and_busy_its_retry_after() -> None:
    for cls in _classes().values():
        exc = cls("no adapter 'x'")
        assert exc.message == str(exc) == "no adapter 'x'"
    assert errors.Busy("full", retry_after=2.5).retry_after == 2.5
    assert isinstance(errors.AdapterNotFound("x"), errors.NotFound)
