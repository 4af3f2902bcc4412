"""``python -m bench``: the table's rows, verdicts and JSON (the figures themselves
are measured by ``make bench``, never asserted in tests)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run, table  # noqa: E402


def test_a_row_gives_medians_ranges_and_a_verdict() -> None:
    fast = table.row("fan-out", [2e-6, 1e-6, 3e-6], [10e-6, 9e-6, 11e-6], "TPE", "µs/task",
                     0.25, 1e6)
    assert fast["ours"] == pytest.approx(2.0) and fast["peer"] == pytest.approx(10.0)
    assert fast["ours_range"] == pytest.approx((1.0, 3.0))
    assert table.ratio(fast) == pytest.approx(0.2) and table.verdict(fast) == "ok"
    slow = table.row("tree", [4.0], [100.0], "dask", "µs/node", 0.03)
    assert table.verdict(slow) == "MISSED"
    assert table.verdict(table.row("scale", [1.0], [2.0], "TPE", "s", None)) == "-"


def test_the_table_and_the_json_show_every_row() -> None:
    sections = [("threads", [table.row("map", [1.0], [4.0], "TPE map", "µs/task", 0.25)]),
                ("async", [table.row("no-op", [3.0], [2.0], "asyncio.gather", "µs", 1.2)])]
    header = table.machine()
    text = io.StringIO()
    table.print_table(sections, header, text)
    lines = text.getvalue().splitlines()
    assert header["python"] in lines[0]
    assert any("[threads]" in line for line in lines)
    assert any(line.startswith("map") and "ok" in line for line in lines)
    assert any(line.startswith("no-op") and "MISSED" in line for line in lines)
    out = io.StringIO()
    table.dump_json(sections, header, out)
    data = json.loads(out.getvalue())
    assert [(r["section"], r["verdict"]) for r in data["rows"]] == [("threads", "ok"),
                                                                    ("async", "MISSED")]
    assert data["rows"][0]["ratio"] == pytest.approx(0.25)


def test_an_unknown_section_is_refused_naming_the_sections(capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    with pytest.raises(SystemExit):
        run.main(["--only", "threads,nosuch"])
    assert "no section nosuch: choose from threads" in capsys.readouterr().err
