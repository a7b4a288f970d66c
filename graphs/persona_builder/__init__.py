"""persona_builder: an account's posts -> a ghostwriter persona version (create, refine, batch).

`state` (input, output, state), `context` (run-time settings), `nodes`, `post_writing`
(the messages that ask a persona for one post), and `graph` (the compiled graphs).
"""

from graphs.persona_builder.context import BuilderContext
from graphs.persona_builder.graph import batch_graph, build_persona_batch, build_persona_builder, graph
from graphs.persona_builder.nodes import BuilderError, parse_analysis

__all__ = [
    "BuilderContext",
    "BuilderError",
    "batch_graph",
    "build_persona_batch",
    "build_persona_builder",
    "graph",
    "parse_analysis",
]
