"""Upload a saved eval run as a LangSmith experiment, only when LANGSMITH_API_KEY is set.

Without the key this module does nothing and imports no client: no result leaves
the machine. With it: a dataset `personas-eval-<suite>` (created on first upload,
example ids derived from the row ids so re-runs line up), an experiment project
named after the run id, one run per example and one feedback score per metric.
`LANGSMITH_ENDPOINT` points the client elsewhere (tests use a loopback stub).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

_NAMESPACE = uuid.UUID("5b0c6a52-7a1e-4f0e-9d5e-3f2e8d1c6a10")


def upload_enabled() -> bool:
    return bool(os.environ.get("LANGSMITH_API_KEY", "").strip())


def _example_id(suite: str, example_id: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{suite}/{example_id}")


def upload_run(record: Mapping[str, Any]) -> str | None:
    """The experiment name when uploaded; None when no key is set (nothing is sent)."""
    if not upload_enabled():
        return None
    from langsmith import Client

    client = Client(auto_batch_tracing=False)
    suite = record["suite"]
    dataset_name = f"personas-eval-{suite}"
    if client.has_dataset(dataset_name=dataset_name):
        dataset = client.read_dataset(dataset_name=dataset_name)
    else:
        dataset = client.create_dataset(dataset_name, description=f"personas eval suite {suite}")
        client.create_examples(
            dataset_id=dataset.id,
            examples=[
                {"id": _example_id(suite, ex["id"]), "inputs": ex["inputs"], "outputs": {"notes": ex.get("notes")}}
                for ex in record["examples"]
            ],
        )
    project = record["run_id"]
    client.create_project(
        project,
        reference_dataset_id=dataset.id,
        metadata={"model": record.get("model"), "prompts": record.get("prompts"), "suite": suite},
    )
    now = datetime.now(timezone.utc)
    for ex in record["examples"]:
        run_id = uuid.uuid4()
        client.create_run(
            suite,
            ex["inputs"],
            "chain",
            project_name=project,
            id=run_id,
            outputs={"output": ex["output"]},
            reference_example_id=_example_id(suite, ex["id"]),
            start_time=now,
            end_time=now,
        )
        for key, score in ex["metrics"].items():
            client.create_feedback(run_id, key, score=score)
    return project
