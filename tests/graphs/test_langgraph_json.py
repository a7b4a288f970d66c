"""Every graph in langgraph.json loads the way `langgraph dev` loads it, and every graph
the server mounts is listed there."""

import importlib.util
import json
import sys
from pathlib import Path

from langgraph.pregel import Pregel

from tests.support.paths import ROOT


def _load(spec: str):
    path, _, attr = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem + "_lgjson", ROOT / path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # as langgraph dev does: typing needs the module registered
    module_spec.loader.exec_module(module)
    return getattr(module, attr)


def test_every_listed_graph_loads():
    config = json.loads((ROOT / "langgraph.json").read_text())
    assert config["graphs"], "langgraph.json lists no graphs"
    for name, spec in config["graphs"].items():
        graph = _load(spec)
        assert isinstance(graph, Pregel), f"{name} is not a compiled graph"
        assert graph.checkpointer is None, f"{name}: the platform supplies the checkpointer"


async def test_server_graphs_are_all_listed(client):
    config = json.loads((ROOT / "langgraph.json").read_text())
    spec = (await client.get("/openapi.json")).json()
    mounted = {p.split("/")[2] for p in spec["paths"] if p.startswith("/graphs/")}
    assert mounted and mounted <= set(config["graphs"])
