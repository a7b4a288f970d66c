"""The demo consumer table's vocabulary: the values its columns hold, shared by the records'
generator and loader, the clustering, the chat's fact checker and the survey's option check."""

from __future__ import annotations

HOUSEHOLDS = ("Single", "Couple", "Family with children", "Single parent", "Multi-generational")
KIDS_HOUSEHOLDS = frozenset({"Family with children", "Single parent"})
PARTNER_HOUSEHOLDS = frozenset({"Couple", "Family with children"})
EDUCATION_LEVELS = ("High school or less", "Some college", "Bachelor's degree", "Graduate degree")  # in order
CREDIT_TIERS = ("Sub Prime", "Near Prime", "Prime", "Super Prime")  # in order, as the records spell them
CREDIT_TIER_NAMES = ("deep-subprime", "subprime", "near-prime", "prime", "super-prime")
"""The tiers a fact or a sentence names, in order (`graphs.persona_chat.facts.normalise_tier`)."""
