"""`personas serve` loads the local embedding model in a process of its own (runtime.embedding_process):
its vectors are the in-process model's, the services wait for it and end it, and it does not
outlive a killed API process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import psutil
import pytest

from evals.twin_routing import load_jsonl
from runtime.embedding_process import ProcessEmbeddings
from runtime.errors import ConfigError
from runtime.services import Services, launch_models

QUERIES = [r["query"] for r in load_jsonl("twin_routing.jsonl")][:24] + ["two\nlines", ""]


def _model_processes() -> set[int]:
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:  # a short-lived child (pg_ctl, ...) that ended meanwhile
            pass
    return found


async def test_launched_model_serves_the_services_with_the_in_process_vectors(settings, script, local_embeddings):
    before = _model_processes()
    launched = launch_models(settings)  # the fake chat model needs no model server
    assert launched.local_llm is None and isinstance(launched.embeddings, ProcessEmbeddings)
    services = await Services.acreate(settings, launched=launched)
    try:
        await services.start()
        assert services.embeddings is launched.embeddings
        assert services.ready
        children = _model_processes() - before
        assert len(children) == 1
        model_processes = [psutil.Process(pid) for pid in children]  # before stop: it may be gone after
        assert services.embeddings.embed_documents(QUERIES) == local_embeddings.embed_documents(QUERIES)
        batched = await services.require_embeddings().aembed_queries(QUERIES[:8])
        alone = [local_embeddings.embed_query(q) for q in QUERIES[:8]]
        # one padded batch in the child: the same vectors up to float rounding
        assert np.abs(np.array(batched) - np.array(alone)).max() < 1e-5
        assert {"embedded postgres", "database set-up", "embeddings"} <= set(services.timings)
    finally:
        await services.stop()
    gone, alive = psutil.wait_procs(model_processes, timeout=30)
    assert alive == []
    assert services.embeddings is None  # a restart loads the model again


async def test_without_the_process_setting_nothing_is_launched(settings, script):
    settings.embedding_process = False
    launched = launch_models(settings)
    assert launched.embeddings is None and launched.local_llm is None


def test_the_model_process_ends_when_the_api_process_is_killed(tmp_path):
    script = tmp_path / "api.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            import psutil
            from runtime.embedding_process import ProcessEmbeddings

            if __name__ == "__main__":
                model = ProcessEmbeddings("local:all-minilm-l6-v2").wait_loaded()
                kids = [c.pid for c in psutil.Process().children() if "spawn_main" in " ".join(c.cmdline())]
                print(*kids, flush=True)
                time.sleep(600)
            """
        )
    )
    api = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert api.stdout is not None
        pids = [int(pid) for pid in api.stdout.readline().split()]
        assert len(pids) == 1
        model = psutil.Process(pids[0])
        api.kill()  # SIGKILL: no clean-up runs in the API process
        api.wait(timeout=30)
        gone, alive = psutil.wait_procs([model], timeout=30)
        assert alive == []
    finally:
        if api.poll() is None:
            api.kill()


def test_a_model_that_cannot_load_is_a_config_error_that_names_the_way_out():
    model = ProcessEmbeddings("local:missing")  # the child's make_embeddings rejects the name
    with pytest.raises(ConfigError, match="EMBEDDING_PROCESS=false"):
        model.wait_loaded(timeout=120)
    assert not model._process.is_alive()


def test_a_child_that_died_fails_the_request_with_a_sentence(local_embeddings):
    model = ProcessEmbeddings("local:all-minilm-l6-v2").wait_loaded()
    try:
        assert model.embed_query("still here") == local_embeddings.embed_query("still here")
        model._process.kill()
        model._process.join(30)
        with pytest.raises(RuntimeError, match="process .* has ended"):
            model.embed_documents(["anyone there?"])
    finally:
        model.close()
    assert not model._process.is_alive()
