"""Build a :class:`SegmentSet` from consumer records: encode, cluster (KMeans), profile,
name, and create 15 personas per cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from use_cases.twin.segments.features import encode_features
from use_cases.twin.segments.model import ClusterSpec, SegmentSet, check_clustering
from use_cases.twin.segments.naming import name_clusters
from use_cases.twin.segments.personas import build_personas
from use_cases.twin.segments.profile import baseline_of, cluster_attributes, cluster_summary

Progress = Callable[[str], None]

N_INIT = 10  # fixed so results do not depend on scikit-learn's default


def _cluster(features: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    model = KMeans(n_clusters=k, n_init=N_INIT, random_state=seed)
    labels = model.fit_predict(features)
    distances = np.linalg.norm(features - model.cluster_centers_[labels], axis=1)
    return labels, distances


def _ordered_groups(
    records: list[dict[str, Any]], features: np.ndarray, k: int, seed: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Member indices of each cluster, youngest cluster (by mean age) first, and every record's
    distance to its cluster centre."""
    labels, distances = _cluster(features, k, seed)
    groups = [np.flatnonzero(labels == c) for c in range(k)]
    if any(len(g) == 0 for g in groups):
        raise ValueError(f"KMeans left an empty cluster; try fewer than {k} clusters")

    def mean_age(g: np.ndarray) -> float:
        return round(sum(records[i]["age"] for i in g) / len(g), 1)  # as the profile rounds it

    order = sorted(range(k), key=lambda c: (mean_age(groups[c]), -len(groups[c]), c))
    return [groups[c] for c in order], distances


def cluster_members(records: list[dict[str, Any]], k: int, seed: int = 7) -> list[list[dict[str, Any]]]:
    """The member records of each cluster `build_segments` makes from the same records, k and
    seed, in cluster-key order (a fidelity eval compares twins with the records they stand for)."""
    groups, _ = _ordered_groups(records, encode_features(records), k, seed)
    return [[records[i] for i in g] for g in groups]


def build_segments(
    records: list[dict[str, Any]],
    k: int,
    seed: int = 7,
    progress: Progress | None = None,
) -> SegmentSet:
    """Cluster ``records`` into ``k`` named segments with 15 personas each.

    Deterministic for the same records, ``k`` and ``seed``. Cluster keys run 0..k-1
    from the youngest cluster (by mean age) to the oldest.
    """
    say = progress or (lambda _msg: None)
    check_clustering(len(records), k)
    say(f"encoding {len(records)} records")
    features = encode_features(records)
    say(f"clustering into {k} clusters (KMeans, n_init={N_INIT}, seed={seed})")
    groups, distances = _ordered_groups(records, features, k, seed)
    base = baseline_of(records)
    profiles = [cluster_attributes([records[i] for i in g], base, len(records)) for g in groups]
    names = name_clusters(profiles)
    clusters: list[ClusterSpec] = []
    personas = []
    for key, (name, attrs, members) in enumerate(zip(names, profiles, groups, strict=True)):
        say(f"cluster {key + 1}/{k}: {name} ({attrs['size']} records)")
        clusters.append(ClusterSpec(key=key, name=name, summary=cluster_summary(attrs), attributes=attrs))
        personas.extend(build_personas(key, [records[i] for i in members], distances[members], seed))
    say(f"built {len(clusters)} clusters and {len(personas)} personas")
    return SegmentSet(clusters=clusters, personas=personas)
