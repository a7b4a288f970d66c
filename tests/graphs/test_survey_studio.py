"""segment_survey and focus_group in the real LangGraph dev server (blockbuster on), on the local
model, over twins imported with the real `personas twin import` into the server's data dir."""

from __future__ import annotations

import subprocess
import sys

import httpx

from tests.support.dev_server import ROOT, langgraph_dev, needs_studio, service_env
from tests.support.twin import small_segments
from use_cases.twin.segment_files import write_segment_set
from use_cases.twin.segments.model import SegmentSet


@needs_studio
def test_langgraph_dev_runs_the_survey_and_the_focus_group(tmp_path):
    demo = small_segments()
    cluster = next(c for c in demo.clusters if c.name == "Super-Prime Wealthy Boomers")
    people = [p for p in demo.personas_of(cluster.key) if p.age_band == "65 - 74"]
    segment_file = tmp_path / "segments.json"
    write_segment_set(SegmentSet(clusters=[cluster], personas=people), segment_file)
    env = service_env(tmp_path, CHAT_MODEL="local:smollm2")
    imported = subprocess.run(
        [sys.executable, "-m", "server.cli", "twin", "import", str(segment_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    with langgraph_dev(env) as server, httpx.Client(base_url=server.base_url, timeout=900) as client:

        def run(assistant: str, graph_input: dict, context: dict) -> dict:
            thread = client.post("/threads", json={}).json()["thread_id"]
            body = {"assistant_id": assistant, "input": graph_input, "context": context}
            return client.post(f"/threads/{thread}/runs/wait", json=body).json()

        survey = run(
            "segment_survey",
            {"question": "Do you own or rent your home?", "options": ["Own", "Rent"], "cluster_ids": [cluster.key]},
            {"max_concurrency": 1},
        )
        group = run(
            "focus_group",
            {"question": "What do you spend too much on?", "cluster_ids": [cluster.key], "personas_per_cluster": 2},
            {"max_tokens": 40},
        )
        missing = run("segment_survey", {"question": "Q?", "options": ["A", "B"], "cluster_ids": [999]}, {})
    (surveyed,) = survey["clusters"]
    assert surveyed["n_personas"] == 2 and surveyed["n_answers"] == 2, survey
    assert all(a["answer"] in ("Own", "Rent") for a in surveyed["answers"])
    (discussed,) = group["clusters"]
    answers = {r["persona_id"]: r["answer"] for r in discussed["responses"]}
    assert len(answers) == 2 and all(a.strip() for a in answers.values()), group
    for theme in discussed["themes"]:
        assert any(theme["quote"] in answers[p] for p in theme["persona_ids"])
    assert "Cluster 999 not found" in str(missing)
