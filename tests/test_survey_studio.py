"""segment_survey and focus_group in the real LangGraph dev server (blockbuster on), on the local
model, over twins imported with the real `personas twin import` into the server's data dir."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from runtime.local_llm import free_port
from services.twin.segment_files import write_segment_set
from services.twin.segments.model import SegmentSet
from tests.test_studio_dev import _service_env, _wait_for
from tests.twin_fixtures import small_segments

ROOT = Path(__file__).resolve().parents[1]
LANGGRAPH = shutil.which("langgraph", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(LANGGRAPH is None, reason="the studio extra is not installed (make studio installs it)")
def test_langgraph_dev_runs_the_survey_and_the_focus_group(tmp_path):
    demo = small_segments()
    cluster = next(c for c in demo.clusters if c.name == "Super-Prime Wealthy Boomers")
    people = [p for p in demo.personas_of(cluster.key) if p.age_band == "65 - 74"]
    segment_file = tmp_path / "segments.json"
    write_segment_set(SegmentSet(clusters=[cluster], personas=people), segment_file)
    env = _service_env(tmp_path, CHAT_MODEL="local:smollm2")
    imported = subprocess.run(
        [sys.executable, "-m", "server.cli", "twin", "import", str(segment_file)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    port = free_port()
    proc = subprocess.Popen(
        [LANGGRAPH, "dev", "--no-browser", "--no-reload", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/ok", proc)
        with httpx.Client(base_url=base, timeout=900) as client:

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
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    (surveyed,) = survey["clusters"]
    assert surveyed["n_personas"] == 2 and surveyed["n_answers"] == 2, survey
    assert all(a["answer"] in ("Own", "Rent") for a in surveyed["answers"])
    (discussed,) = group["clusters"]
    answers = {r["persona_id"]: r["answer"] for r in discussed["responses"]}
    assert len(answers) == 2 and all(a.strip() for a in answers.values()), group
    for theme in discussed["themes"]:
        assert any(theme["quote"] in answers[p] for p in theme["persona_ids"])
    assert "Cluster 999 not found" in str(missing)
