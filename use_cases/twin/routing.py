"""Finding a segment twin: clusters for a free-text query, the personas of a cluster (all of
them, or ranked for a query), and a persona's greeting.

Scoring, ranking and greeting run the cluster_router graph; a plain listing reads the store.
Unknown ids raise the router's `ClusterNotFound` / `TwinPersonaNotFound` (404s).
"""

from __future__ import annotations

from langgraph.graph.state import CompiledStateGraph

from graphs.cluster_router.context import RouterContext
from graphs.cluster_router.nodes import ClusterNotFound, TwinPersonaNotFound
from graphs.cluster_router.state import ClusterMatch, Greeting, PersonaMatch, RouterInput, RouterOutput, RouterState
from runtime.services import Services
from store.clusters import ClusterRow, SegmentPersonaRow, cluster_personas, get_cluster
from store.types import Pool

RouterGraph = CompiledStateGraph[RouterState, RouterContext, RouterInput, RouterOutput]


def _context(services: Services) -> RouterContext:
    return RouterContext(services=services)


async def require_cluster(pool: Pool, cluster_id: int) -> ClusterRow:
    cluster = await get_cluster(pool, cluster_id)
    if cluster is None:
        raise ClusterNotFound(f"Cluster {cluster_id} not found")
    return cluster


async def find_clusters(
    services: Services, router: RouterGraph, query: str, top_k: int, min_similarity: float | None = None
) -> list[ClusterMatch]:
    """The `top_k` clusters that fit `query` best, best first; with `min_similarity`, only
    those whose calibrated similarity reaches it (possibly none: no segment matches)."""
    state = await router.ainvoke({"task": "clusters", "query": query, "top_k": top_k}, context=_context(services))
    clusters = list(state.get("clusters") or [])
    if min_similarity is not None:
        clusters = [c for c in clusters if c["similarity"] >= min_similarity]
    return clusters


async def list_personas(pool: Pool, cluster_id: int) -> list[SegmentPersonaRow]:
    """Every persona of a cluster, in id order."""
    await require_cluster(pool, cluster_id)
    return await cluster_personas(pool, cluster_id)


async def refine_personas(
    services: Services, router: RouterGraph, cluster_id: int, query: str, top_k: int
) -> list[PersonaMatch]:
    """At most `top_k` personas of a cluster that fit `query`, best first (possibly fewer: an age
    band or gender the query names is a hard filter)."""
    await require_cluster(services.pool, cluster_id)
    # The graph raises ClusterNotFound itself when a concurrent import removed the cluster meanwhile.
    task: RouterInput = {"task": "personas", "query": query, "top_k": top_k, "cluster_id": cluster_id}
    state = await router.ainvoke(task, context=_context(services))
    return list(state.get("personas") or [])


async def greet(services: Services, router: RouterGraph, persona_id: int) -> Greeting:
    """The persona's greeting that opens a chat."""
    state = await router.ainvoke({"task": "greeting", "persona_id": persona_id}, context=_context(services))
    greeting: Greeting | None = state.get("greeting")
    if greeting is None:
        raise TwinPersonaNotFound(f"Persona {persona_id} not found")
    return greeting
