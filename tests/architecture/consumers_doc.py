"""The event → handler table in docs/consumers.md, generated from the consumers' routers.

`python tests/architecture/consumers_doc.py write` rewrites the generated part;
`test_consumers_doc.py` checks it is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from podium_runtime.routing import markdown_table

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "consumers.md"
MARKER = "<!-- generated: make consumers-doc -->\n"


def consumer_modules() -> list[str]:
    """Return the dotted names of every service's consumers modules, in a stable order."""
    names = []
    for path in sorted((ROOT / "services").glob("*/src/*/**/consumers.py")):
        below_src = path.with_suffix("").parts[path.parts.index("src") + 1 :]
        names.append(".".join(below_src))
    return names


def rendered() -> str:
    """Return the whole document as it should read."""
    head = DOC.read_text().split(MARKER)[0]
    return head + MARKER + "\n" + markdown_table(consumer_modules())


if __name__ == "__main__" and sys.argv[1:] == ["write"]:
    DOC.write_text(rendered())
    print(f"wrote {DOC.relative_to(ROOT)}")
