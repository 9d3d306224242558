"""CSV exports neutralize spreadsheet formulas."""

from __future__ import annotations

import csv
import io

import pytest

from mailapp.safe_csv import csv_lines, neutralize


@pytest.mark.parametrize("cell", ["=1+1", "+49 30 123", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_become_text(cell: str) -> None:
    assert neutralize(cell) == "'" + cell


def test_plain_cells_and_streaming() -> None:
    assert neutralize(None) == ""
    assert neutralize(42) == "42"
    text = "".join(csv_lines(["a", "b"], iter([["=cmd()", 'say "hi"'], [1, None]])))
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["'=cmd()", 'say "hi"'], ["1", ""]]
