"""Routing on any table's answers: the values a query names ("Republicans who rent") matched
against how each cluster's members answered (`value_shares`, which a build from a record table
stores per cluster: {column: {value: weighted share}}).

A value counts as named when the query holds it as a phrase (any case, a plural "s" allowed)
and it names something: "Mitt Romney" or "Rent", not a bare scale point such as "Strongly
agree" or "yes", which says nothing without its question. Clusters without `value_shares` (the
demo's) are scored as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from domain.record_schema import names_something

FULL_AT = 0.6  # a cluster where this share of the members gave the named value agrees fully
MIN_VALUE_CHARS = 3
_NOT_NAMES = frozenset({"other", "none", "dk", "don't know", "refused", "inapplicable", "missing", "n/a", "na"})

ValueShares = Mapping[str, Mapping[str, float]]


def _named_in(query: str, value: str) -> bool:
    pattern = r"(?<![\w-])" + re.escape(value) + r"(?:s|es)?(?![\w-])"
    return re.search(pattern, query, re.IGNORECASE) is not None


def named_values(query: str, clusters: Iterable[ValueShares]) -> dict[str, list[str]]:
    """{column: the values of it the query names}, among the values any of ``clusters`` has."""
    candidates: dict[str, set[str]] = {}
    for shares in clusters:
        for column, by_value in shares.items():
            candidates.setdefault(column, set()).update(by_value)
    named: dict[str, list[str]] = {}
    for column, values in candidates.items():
        found = [
            v
            for v in sorted(values)
            if len(v) >= MIN_VALUE_CHARS and v.lower() not in _NOT_NAMES and names_something(v) and _named_in(query, v)
        ]
        # "Democrat" inside "Strong Democrat": the longer phrase is what the query said
        found = [v for v in found if not any(v != w and v.lower() in w.lower() for w in found)]
        if found:
            named[column] = found
    return named


def value_agreement(named: Mapping[str, list[str]], shares: ValueShares) -> dict[str, float]:
    """Per named column, how far the cluster agrees, in [0, 1]: the share of its members who gave
    one of the named values, full at :data:`FULL_AT`."""
    return {
        column: round(min(1.0, sum(shares.get(column, {}).get(v, 0.0) for v in values) / FULL_AT), 4)
        for column, values in named.items()
    }
