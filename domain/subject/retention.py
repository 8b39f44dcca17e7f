"""How long a closed case keeps its personal data: years after closure, per category.

Cases that may concern children (self-harm risk, harm to others) keep theirs at least 25 years,
as child-protection records are kept (to the subject's date of birth plus 25 years, which a
case does not hold, so from closure); an organisation may set a category longer, or others
shorter, but never those two below 25 years unless it names them itself.

A helpline contact keeps its personal data ``contact_years`` after it occurred (its logging's
``occurred_at``), unless it is linked to a case: then it is kept as long as its case is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.case.vocabulary import Category

MAY_CONCERN_CHILDREN: frozenset[Category] = frozenset(
    {Category.SELF_HARM_RISK, Category.HARM_TO_OTHERS}
)
CHILD_PROTECTION_YEARS = 25


@dataclass(frozen=True)
class RetentionPolicy:
    """Years after closure per category: ``by_category`` where named, else the default (and at
    least ``CHILD_PROTECTION_YEARS`` for the categories that may concern children); years after
    the contact for a helpline contact not linked to a case (``contact_years``)."""

    default_years: int = 6
    by_category: Mapping[Category, int] = field(default_factory=dict)
    contact_years: int = 6

    def years_for(self, category: Category) -> int:
        if category in self.by_category:
            return self.by_category[category]
        if category in MAY_CONCERN_CHILDREN:
            return max(CHILD_PROTECTION_YEARS, self.default_years)
        return self.default_years
