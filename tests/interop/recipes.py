"""The copy-paste recipes of docs/*.md, as the tests run them.

A recipe block is a fenced ```sh block preceded by a marker line naming it:

    <!-- test: sign -->
    ```sh
    openssl dgst ...
    ```

Tests run the named blocks as written (only a block the doc calls settings is
the test's own), so a recipe that stops working fails a test."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"<!-- test: ([\w-]+) -->\n```sh\n(.*?)```\n", re.S)


def recipes(doc: str) -> dict[str, str]:
    """Every named block of docs/DOC, by name, in document order."""
    text = (REPO / "docs" / doc).read_text()
    found = _BLOCK.findall(text)
    names = [n for n, _ in found]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"docs/{doc}: recipe names used twice: {sorted(dup)}"
    return dict(found)


def unmarked_sh_blocks(doc: str) -> int:
    """The number of ```sh blocks with no test marker (should be 0, or a block
    the doc says is not run, such as a build step)."""
    text = (REPO / "docs" / doc).read_text()
    return len(re.findall(r"^```sh\n", text, re.M)) - len(_BLOCK.findall(text))
