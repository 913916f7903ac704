"""Shared helper for benchmark scripts: print a table and write it as Markdown + JSON."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_table(topic: str, rows: list[dict], *, title: str, notes: str = "") -> str:
    """Print ``rows`` (list of dicts with the same keys) as a Markdown table and save it to
    ``benchmarks/results/<topic>.md`` and ``.json``; returns the Markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0]) if rows else []
    lines = [f"# {title}", "", f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} "
             f"on {platform.machine()}, Python {platform.python_version()}.", ""]
    lines.append("| " + " | ".join(keys) + " |")
    lines.append("|" + "---|" * len(keys))
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r[k]) for k in keys) + " |")
    if notes:
        lines += ["", notes]
    md = "\n".join(lines) + "\n"
    print(md)
    (RESULTS / f"{topic}.md").write_text(md)
    (RESULTS / f"{topic}.json").write_text(json.dumps({"title": title, "rows": rows,
                                                       "notes": notes}, indent=2))
    return md


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
