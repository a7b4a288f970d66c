"""The segment prior: a cluster's stored splits of its records turned into a prior over a closed
question's options by the survey's fact check, and how it weighs a model's probabilities."""

from __future__ import annotations

import math

import pytest

from graphs.segment_survey.closed_answer import ClosedAnswer, with_prior
from graphs.segment_survey.segment_prior import poisson_split, prior_shares, record_shares, segment_prior

CLUSTER = {
    "homeowner_share": 0.8,
    "political_giving_share": 0.3,
    "household_shares": {"Single": 0.1, "Couple": 0.2, "Family with children": 0.6, "Single parent": 0.1},
    "education_shares": {"High school or less": 0.5, "Some college": 0.3, "Bachelor's degree": 0.2},
    "credit_tier_shares": {"Sub Prime": 0.25, "Prime": 0.75},
    "region_shares": {"South": 0.7, "West": 0.3},
    "income_mean": 61000,
}


def test_record_shares_are_the_stored_splits_by_fact_key():
    shares = record_shares(CLUSTER)
    assert shares["homeowner"] == pytest.approx({"yes": 0.8, "no": 0.2})
    assert shares["political_donor"] == pytest.approx({"yes": 0.3, "no": 0.7})
    assert set(shares) == {"homeowner", "political_donor", "household", "education", "credit_tier", "region"}
    assert record_shares({}) == {} and record_shares(None) == {}
    assert record_shares({"homeowner_share": 3, "region_shares": {"South": 0}}) == {}  # nonsense is left out


def test_a_count_kept_as_a_mean_is_read_as_poisson():
    split = poisson_split(0.5)
    assert sum(split.values()) == pytest.approx(1.0)
    assert split["0"] == pytest.approx(math.exp(-0.5)) and split["1"] == pytest.approx(0.5 * math.exp(-0.5))
    assert poisson_split(40.0)["5"] == pytest.approx(1.0)  # the tail holds "5 or more"
    shares = prior_shares({**CLUSTER, "open_auto_loans_mean": 0.26})
    assert "auto_loans" not in record_shares({**CLUSTER, "open_auto_loans_mean": 0.26})  # raking never sees it
    assert {k: v for k, v in shares.items() if k != "auto_loans"} == record_shares(CLUSTER)
    loan = segment_prior("Do you have an auto loan right now?", ["Yes", "No"], shares)
    assert loan == pytest.approx({"Yes": 1 - math.exp(-0.26), "No": math.exp(-0.26)})
    how_many = segment_prior("How many car loans do you have?", ["None", "One", "Two or more"], shares)
    assert how_many is not None and how_many["None"] > how_many["One"] > how_many["Two or more"]
    assert "auto_loans" not in prior_shares({"open_auto_loans_mean": float("nan")})
    assert "auto_loans" not in prior_shares({"open_auto_loans_mean": -1})
    assert prior_shares(None) == {}


def test_the_prior_follows_the_split_the_question_is_about():
    shares = record_shares(CLUSTER)
    home = segment_prior("Are you a homeowner or a renter?", ["Homeowner", "Renter"], shares)
    assert home == pytest.approx({"Homeowner": 0.8, "Renter": 0.2})
    region = segment_prior("Which part of the country do you live in?", ["West", "South", "Northeast"], shares)
    assert region == pytest.approx({"West": 0.3, "South": 0.7, "Northeast": 0.0})
    kids = segment_prior("Are there kids living in your home?", ["Yes", "No"], shares)
    assert kids == pytest.approx({"Yes": 0.7, "No": 0.3})  # families and single parents
    giving = segment_prior("Did you give money to political causes in the past year?", ["Yes", "No"], shares)
    assert giving == pytest.approx({"Yes": 0.3, "No": 0.7})
    assert segment_prior("Do you like jazz?", ["Yes", "No"], shares) is None
    assert segment_prior("Do you own or rent your home?", ["Own", "Rent"], {}) is None


def test_an_option_no_value_rules_out_gets_the_mean_not_every_share():
    shares = record_shares(CLUSTER)
    prior = segment_prior("Do you own or rent your home?", ["Own", "Rent", "Other"], shares)
    assert prior is not None and sum(prior.values()) == pytest.approx(1.0)
    # Own 0.8 and Rent 0.2 keep their ratio; Other gets their mean (0.5) before renormalising
    assert prior["Own"] / prior["Rent"] == pytest.approx(4.0)
    assert prior["Other"] == pytest.approx(0.5 / 1.5)


def _answer(probabilities: dict[str, float]) -> ClosedAnswer:
    return ClosedAnswer(max(probabilities, key=probabilities.__getitem__), probabilities, "label_logprobs", (0, 1))


def test_the_prior_weighs_the_model_and_decides_when_they_share_nothing():
    neutral = with_prior(_answer({"Own": 0.5, "Rent": 0.5}), {"Own": 0.8, "Rent": 0.2})
    assert neutral.probabilities == pytest.approx({"Own": 0.8, "Rent": 0.2}) and neutral.answer == "Own"
    assert neutral.method == "label_logprobs+segment"
    # the model's 0.9 counts as its square root against the split: 0.8 * 0.1^0.5 vs 0.2 * 0.9^0.5
    leaning = with_prior(_answer({"Own": 0.1, "Rent": 0.9}), {"Own": 0.8, "Rent": 0.2})
    own, rent = 0.8 * 0.1**0.5, 0.2 * 0.9**0.5
    assert leaning.probabilities == pytest.approx({"Own": own / (own + rent), "Rent": rent / (own + rent)})
    assert leaning.answer == "Own"
    at_full_weight = with_prior(_answer({"Own": 0.1, "Rent": 0.9}), {"Own": 0.8, "Rent": 0.2}, model_weight=1.0)
    assert at_full_weight.probabilities == pytest.approx({"Own": 0.08 / 0.26, "Rent": 0.18 / 0.26})
    assert at_full_weight.answer == "Rent"
    sure = with_prior(_answer({"Own": 0.001, "Rent": 0.999}), {"Own": 0.8, "Rent": 0.2})
    assert sure.answer == "Rent"  # a model that is sure still decides
    disjoint = with_prior(_answer({"Own": 1.0, "Rent": 0.0}), {"Own": 0.0, "Rent": 1.0})
    assert disjoint.probabilities == {"Own": 0.0, "Rent": 1.0} and disjoint.answer == "Rent"
