"""The rows every bench module gives ``python -m bench``, and how they print.

A row is a dict: ``name``; ``ours`` and ``peer``, the medians in ``unit``;
``peer_name``; ``ours_range`` and ``peer_range``, (min, max) of the repeats;
``target``, the largest acceptable ``ours / peer`` (None for a row shown for
scale only). Every ratio reads the same way: below 1 means asynckit costs
less than its peer, and a row meets its target when ``ratio <= target``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

Row = dict[str, Any]


def row(name: str, ours: Sequence[float], peer: Sequence[float], peer_name: str, unit: str,
        target: float | None, scale: float = 1.0) -> Row:
    """A row from the repeats of both sides (seconds, say), scaled into ``unit``."""
    return {"name": name, "ours": statistics.median(ours) * scale,
            "peer": statistics.median(peer) * scale, "peer_name": peer_name, "unit": unit,
            "target": target,
            "ours_range": (min(ours) * scale, max(ours) * scale),
            "peer_range": (min(peer) * scale, max(peer) * scale)}


def ratio(each: Row) -> float:
    return float(each["ours"]) / float(each["peer"])


def verdict(each: Row) -> str:
    target = each["target"]
    if target is None:
        return "-"
    return "ok" if ratio(each) <= target else "MISSED"


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            "load_average": [round(x, 2) for x in load]}


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def print_table(sections: Sequence[tuple[str, Sequence[Row]]], header: dict[str, Any],
                out: TextIO = sys.stdout) -> None:
    """One table: what, asynckit (median [range]), peer, ratio, target, ok."""
    lines = [("what", "asynckit", "peer", "ratio", "target", "")]
    for section, rows in sections:
        lines.append((f"[{section}]", "", "", "", "", ""))
        for each in rows:
            lo, hi = each["ours_range"]
            target = each["target"]
            lines.append((
                each["name"],
                f"{_num(each['ours'])} {each['unit']} [{_num(lo)}-{_num(hi)}]",
                f"{each['peer_name']} {_num(each['peer'])}",
                f"{ratio(each):.3f}",
                "-" if target is None else f"<= {target:g}",
                verdict(each)))
    width = [max(len(line[i]) for line in lines) for i in range(6)]
    print(f"asynckit bench {header['date']}, Python {header['python']}, {header['machine']}, "
          f"load average {' '.join(map(str, header['load_average']))}; "
          f"median [min-max] of alternating repeats", file=out)
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, width, strict=True)).rstrip(),
              file=out)


def dump_json(sections: Sequence[tuple[str, Sequence[Row]]], header: dict[str, Any],
              out: TextIO) -> None:
    rows = [{"section": section, **each, "ratio": ratio(each), "verdict": verdict(each)}
            for section, section_rows in sections for each in section_rows]
    json.dump({**header, "rows": rows}, out, indent=1)
    out.write("\n")
