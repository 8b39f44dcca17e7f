"""The retention rule: years after closure per category, and the 25-year floor for cases that
may concern children unless the organisation names the category itself."""

from __future__ import annotations

from domain.case.vocabulary import Category
from domain.subject.retention import RetentionPolicy


def test_cases_that_may_concern_children_keep_at_least_25_years() -> None:
    policy = RetentionPolicy(default_years=6)
    assert policy.years_for(Category.SELF_HARM_RISK) == 25
    assert policy.years_for(Category.HARM_TO_OTHERS) == 25
    assert policy.years_for(Category.SPAM) == 6


def test_a_longer_default_lifts_the_floor_and_a_named_category_wins() -> None:
    policy = RetentionPolicy(default_years=30, by_category={Category.SPAM: 1})
    assert policy.years_for(Category.SELF_HARM_RISK) == 30
    assert policy.years_for(Category.HARASSMENT) == 30
    assert policy.years_for(Category.SPAM) == 1
    named = RetentionPolicy(by_category={Category.SELF_HARM_RISK: 40})
    assert named.years_for(Category.SELF_HARM_RISK) == 40
