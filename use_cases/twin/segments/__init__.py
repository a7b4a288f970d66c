"""Segment twins without a database: synthetic records, clustering, personas, JSON format."""

from use_cases.twin.segments.model import (
    AGE_BANDS,
    BAND_GENERATION,
    GENDERS,
    GENERATION_BANDS,
    PERSONA_PATTERN,
    ClusterSpec,
    SegmentPersonaSpec,
    SegmentSet,
    age_band_of,
)

__all__ = [
    "AGE_BANDS",
    "BAND_GENERATION",
    "GENERATION_BANDS",
    "GENDERS",
    "PERSONA_PATTERN",
    "ClusterSpec",
    "SegmentPersonaSpec",
    "SegmentSet",
    "age_band_of",
]
