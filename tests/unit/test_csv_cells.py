"""CSV cells: only text a spreadsheet would run is neutralised; real numbers stay numbers."""

from __future__ import annotations

import pytest

from scanlog_api import neutralise


@pytest.mark.parametrize("number", ["-1.5", "-253", "+3", "-2.5e-3", "-.5", "1E+06", "-0.0"])
def test_a_real_number_stays_a_number(number: str) -> None:
    assert neutralise(number) == number


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://evil")', "-1+2", "+cmd|' /C calc'!A0", "@SUM(A1)",
                                     "-2.5e-3)", "- 1", "\t=1", "\r-1", "-1\n=2", "+"])
def test_text_a_spreadsheet_would_run_is_neutralised(formula: str) -> None:
    assert neutralise(formula) == "'" + formula
