"""cluster_router: a free-text query -> segment clusters -> personas -> greeting.

`state` (input, output, state), `context` (run-time settings), `constraints` (the query
parser and attribute agreement), `nodes`, and `graph` (the one compiled graph).
"""

from graphs.cluster_router.context import RouterContext
from graphs.cluster_router.graph import build_cluster_router, graph
from graphs.cluster_router.nodes import ClusterNotFound, TwinPersonaNotFound, greeting_text

__all__ = ["ClusterNotFound", "RouterContext", "TwinPersonaNotFound", "build_cluster_router", "graph", "greeting_text"]
