"""Skips become failures under every usual spelling of ``CI``, and only then."""

from __future__ import annotations

import os

import pytest

from tests.ci import in_ci, normalize_ci_variable, skip_or_fail


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "yes", "on", " true "])
def test_truthy_spellings_mean_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci()
    with pytest.raises(pytest.fail.Exception):
        skip_or_fail("PostgreSQL unreachable")


@pytest.mark.parametrize("value", ["", "false", "0", "no", "off"])
def test_other_values_skip(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    assert not in_ci()
    with pytest.raises(pytest.skip.Exception):
        skip_or_fail("PostgreSQL unreachable")


def test_unset_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert not in_ci()


@pytest.mark.parametrize(("value", "normalized"), [("1", "true"), ("Yes", "true"), ("0", "0")])
def test_truthy_spellings_are_normalized(
    monkeypatch: pytest.MonkeyPatch, value: str, normalized: str
) -> None:
    """Checks written ``CI == "true"`` (other modules, client suites) see CI too."""
    monkeypatch.setenv("CI", value)
    normalize_ci_variable()
    assert os.environ["CI"] == normalized
