"""The one error tree: every error digest raises for a user is drawn in `errors.py`,
defined there, under the parent the drawing shows."""

import importlib
import pkgutil
import re

import digest
from digest import errors
from digest.errors import DigestError


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def _drawn_parents() -> dict[str, str]:
    """Each drawn name -> the name drawn above it one level up."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*[├└]── )(\w+)", line) or re.match(
            r"^(\s*)(DigestError)\b", line
        )
        if not match:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else ""
        stack.append((depth, name))
    return parents


def test_every_digest_error_is_drawn_and_defined_in_errors() -> None:
    for module in pkgutil.walk_packages(digest.__path__, "digest."):
        if not module.name.endswith("__main__"):  # that one runs the CLI
            importlib.import_module(module.name)
    drawn = _drawn_parents()
    classes = _all_subclasses(DigestError)
    assert len(classes) >= 15
    for cls in classes:
        assert cls.__module__ == "digest.errors", f"{cls.__name__} lives in {cls.__module__}"
        assert cls.__name__ in drawn, f"{cls.__name__} is not drawn in errors.py"
        parent = next(b for b in cls.__bases__ if issubclass(b, DigestError))
        assert drawn[cls.__name__] == parent.__name__, cls.__name__
