"""What a record's answer says about the person, read from the answer's words."""

from __future__ import annotations

import pytest

from domain.record_schema import names_something


@pytest.mark.parametrize("answer", ["Mitt Romney", "Rent", "Hispanic", "Married: spouse present"])
def test_an_answer_that_names_something(answer):
    assert names_something(answer)


@pytest.mark.parametrize(
    "answer",
    ["Strongly agree", "Decreased", "yes", "Don't know", "Don\u2019t know", "Refused", "No answer", "Not asked", "DK"],
)
def test_a_scale_answer_or_a_non_answer_names_nothing(answer):
    assert not names_something(answer)
