"""`certplatform analytics irt`: JSON out for a good matrix, exit 2 and a reason for a bad one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certplatform.cli import app
from tests.conftest import shared_data

runner = CliRunner()


def test_lsat7_prints_item_parameters_as_json() -> None:
    path = shared_data() / "irt" / "lsat7.csv"
    result = runner.invoke(app, ["analytics", "irt", str(path), "--model", "2pl", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [row["item"] for row in out["items"]] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert set(out["items"][0]) == {"item", "a", "b"}
    assert out["items"][0]["b"] == pytest.approx(-1.88, abs=0.1)  # mirt: -1.879
    assert out["loglik"] < 0
    assert out["persons"] == 1000
    assert out["converged"] is True


def test_3pl_reports_the_fixed_guessing_floor(tmp_path: Path) -> None:
    path = shared_data() / "irt" / "ability.csv"
    result = runner.invoke(
        app, ["analytics", "irt", str(path), "--model", "3pl", "--choices", "6", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["items"]
    assert len(rows) == 16
    assert all(row["c"] == pytest.approx(1 / 6) for row in rows)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("Q1,Q2,Q3\n", "no response rows"),
        ("Q1,Q2\n1,0\n1\n", "line 3 has 1 values but the header has 2 columns"),
        ("Q1,Q2\n1,0\n\n2,1\n", "line 4, item Q1: '2' is not 0, 1 or blank"),
        ("Q1,Q2\n1,yes\n", "line 2, item Q2: 'yes' is not 0, 1 or blank"),
        ("Q1,Q1\n1,0\n", "item names appear twice in the header: Q1"),
        ("Q1,Q2\n1,\n0,\n", "no responses to Q2"),
        ("Q1,Q2\n,\n", "only blanks"),
    ],
)
def test_malformed_input_exits_2_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "responses.csv"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["analytics", "irt", str(path), "--json"])
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_3pl_without_choices_exits_2() -> None:
    path = shared_data() / "irt" / "lsat7.csv"
    result = runner.invoke(app, ["analytics", "irt", str(path), "--model", "3pl"])
    assert result.exit_code == 2
    assert "number of choices" in result.stderr
