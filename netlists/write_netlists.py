"""Regenerate the decks in ``netlists/``: the golden block decks (``golden/``).

Run from the repository root:  ``python netlists/write_netlists.py``.  Output is
byte-deterministic; the tests compare the generators against these files.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    from circuitsim.generators.golden import write_golden

    for p in write_golden(HERE / "golden"):
        print(p.relative_to(HERE.parent))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
