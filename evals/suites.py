"""The eval suites: name, description, data set, offline flag and a run function.

A suite's `run(options)` is an async generator of `ExampleResult`s, one per data
set row (the first `options.limit` rows). Offline suites need no chat model and
are deterministic (they use the local embeddings and a throw-away embedded
Postgres); the others call `options.model`. Suites that need the database start
their own `Services` in a temporary folder, so they never touch your data.

Adapters reuse the public functions of the issue modules (`evals.twin_routing`,
`evals.studio_rag`, `evals.ghostwriter_style`) and the public graph APIs.
"""

from __future__ import annotations

import base64
import json
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from evals.evaluators.injection import injection_metrics
from evals.evaluators.persona_facts import check_persona_facts, persona_fact_metrics
from evals.evaluators.retrieval import ranking_metrics

if TYPE_CHECKING:
    from graphs.segment_survey.closed_answer import Method

DATASETS = Path(__file__).parent / "datasets"


@dataclass
class ExampleResult:
    """One data set row's outcome: metric values (1.0 is good for 0/1 metrics), what went in and out."""

    id: str
    metrics: dict[str, float]
    inputs: dict[str, Any] = field(default_factory=dict)
    output: Any = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunOptions:
    model: str = ""
    limit: int | None = None
    max_tokens: int = 160
    judge: Any = None  # evals.evaluators.judge.Judge when a judge model is configured
    persona: Any = None  # evals.persona_target.PersonaTarget: `--persona`, the one persona every row talks to


SuiteRun = Callable[[RunOptions], AsyncIterator[ExampleResult]]


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    dataset: Path
    offline: bool
    primary_metric: str
    run: SuiteRun
    persona_kinds: tuple[str, ...] = ()  # the kinds of persona `--persona` may name here

    @property
    def size(self) -> int:
        return sum(1 for line in self.dataset.read_text(encoding="utf-8").splitlines() if line.strip())

    def rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        rows = [json.loads(line) for line in self.dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
        return rows[:limit] if limit else rows


def _rows(name: str, limit: int | None) -> list[dict[str, Any]]:
    return SUITES[name].rows(limit)


_embeddings_cache: dict[str, Any] = {}


@asynccontextmanager
async def eval_services(**settings: Any) -> AsyncIterator[Any]:
    """Started services on a fresh embedded Postgres in a temp folder (no chat model)."""
    from runtime.embeddings import make_embeddings
    from runtime.services import Services
    from runtime.settings import Settings

    with tempfile.TemporaryDirectory(prefix="personas-eval-") as tmp:
        config = Settings(_env_file=None, database_url=None, data_dir=Path(tmp), twin_demo_autoload=False, **settings)
        services = Services.create(config)
        key = config.embedding_model
        if key not in _embeddings_cache:
            _embeddings_cache[key] = make_embeddings(key, config)
        services.embeddings = _embeddings_cache[key]
        try:
            await services.start(with_model=False, with_embeddings=False)
            yield services
        finally:
            await services.stop()
            _stop_embedded_postgres(config.database_dir)


def _stop_embedded_postgres(pgdata: Path) -> None:
    """Stop this run's embedded Postgres before its temp folder is deleted."""
    import pgserver

    server = pgserver.PostgresServer._instances.get(pgdata.expanduser().resolve())
    if server is not None:
        server.cleanup()


# --- twin routing / refine -------------------------------------------------------------


async def _twin_setup(services: Any) -> int:
    from use_cases.twin.segment_import import replace_segments
    from use_cases.twin.segments.demo import demo_segments

    segments = demo_segments()
    await replace_segments(services.pool, segments, services.require_embeddings())
    return len(segments.clusters)


async def run_twin_routing(options: RunOptions) -> AsyncIterator[ExampleResult]:
    from graphs.cluster_router import build_cluster_router

    async with eval_services() as services:
        n_clusters = await _twin_setup(services)
        graph = build_cluster_router()
        for i, row in enumerate(_rows("twin_routing", options.limit)):
            state = await graph.ainvoke({"task": "clusters", "query": row["query"], "top_k": n_clusters})
            ranked = [c["cluster_name"] for c in state["clusters"]]
            top = float(state["clusters"][0]["similarity"]) if state["clusters"] else 0.0
            if row["expected_cluster_names"]:
                metrics = ranking_metrics(ranked, row["expected_cluster_names"], accuracy_ks=(1,), recall_ks=(3,))
            else:  # a query no cluster should match: only its top score is informative
                metrics = {"no_match_top_score": top}
            yield ExampleResult(
                id=f"route-{i + 1:03d}",
                metrics=metrics,
                inputs={"query": row["query"]},
                output=ranked[:3],
                notes={"expected": row["expected_cluster_names"]},
            )


async def run_twin_refine(options: RunOptions) -> AsyncIterator[ExampleResult]:
    from graphs.cluster_router import build_cluster_router

    async with eval_services() as services:
        await _twin_setup(services)
        async with services.pool.connection() as conn:
            cur = await conn.execute("SELECT id, name FROM clusters")
            ids = {r["name"]: r["id"] for r in await cur.fetchall()}
        graph = build_cluster_router()
        for i, row in enumerate(_rows("twin_refine", options.limit)):
            want = row["expected_persona"]
            want = [want] if isinstance(want, dict) else want
            acceptable = {f"{w['gender']}|{w['age_band']}" for w in want}
            state = await graph.ainvoke(
                {"task": "personas", "query": row["query"], "cluster_id": ids[row["cluster_name"]], "top_k": 15}
            )
            ranked = [f"{p['gender']}|{p['age']}" for p in state["personas"]]
            yield ExampleResult(
                id=f"refine-{i + 1:03d}",
                metrics=ranking_metrics(ranked, acceptable, accuracy_ks=(1,), recall_ks=()),
                inputs={"cluster": row["cluster_name"], "query": row["query"]},
                output=ranked[:3],
                notes={"expected": sorted(acceptable)},
            )


# --- studio RAG --------------------------------------------------------------------------

STUDIO_CHUNK_SIZE = 300


async def run_studio_rag(options: RunOptions) -> AsyncIterator[ExampleResult]:
    from evals.studio_rag import CORPUS, ranked_docs
    from store.documents import create_collection, replace_document, search_chunks
    from store.users import create_user
    from tools.documents import chunk_text, extract_text

    async with eval_services() as services:
        embeddings = services.require_embeddings()
        owner = await create_user(
            services.pool, username=f"eval-{uuid.uuid4().hex[:8]}", password_hash="-", role="builder"
        )
        collection = f"eval-{uuid.uuid4().hex[:8]}"
        await create_collection(services.pool, name=collection, owner_id=owner["id"])
        for path in sorted(CORPUS.iterdir()):
            text = extract_text(path.name, None, path.read_bytes())
            chunks = chunk_text(text, chunk_size=STUDIO_CHUNK_SIZE, chunk_overlap=min(50, STUDIO_CHUNK_SIZE // 4))
            await replace_document(
                services.pool,
                collection=collection,
                file_name=path.name,
                doc_path=path.name,
                chunks=chunks,
                embeddings=embeddings.embed_documents(chunks),
            )
        rows = _rows("studio_rag", options.limit)
        vectors = await embeddings.aembed_queries([r["question"] for r in rows])
        for row, vector in zip(rows, vectors):
            hits = await search_chunks(
                services.pool, query_vector=vector, collections=[collection], metric="cosine", k=40, exact=True
            )
            ranked = ranked_docs(hits)
            metrics = ranking_metrics(ranked, {row["expected_doc"]}, accuracy_ks=(1,), recall_ks=(5,))
            yield ExampleResult(
                id=row.get("id", row["question"][:30]),
                metrics=metrics,
                inputs={"question": row["question"]},
                output=ranked[:5],
                notes={"expected": row["expected_doc"]},
            )


# --- ghostwriter style ------------------------------------------------------------------


async def run_ghostwriter_style(options: RunOptions) -> AsyncIterator[ExampleResult]:
    from evals.evaluators.style import style_metrics
    from evals.ghostwriter_style import persona_prompt
    from graphs.persona_builder.post_writing import write_post
    from runtime.models import make_chat_model
    from runtime.services import current_settings
    from use_cases.ghostwriter.sample_accounts import load_sample_accounts

    rows = _rows("ghostwriter_style", options.limit)
    accounts = {a["account_id"]: a for a in load_sample_accounts()}
    heldout_ids = {r["account_id"]: set(r["heldout_post_ids"]) for r in _rows("ghostwriter_style", None)}
    heldout = {aid: [p["text"] for p in accounts[aid]["posts"] if p["id"] in ids] for aid, ids in heldout_ids.items()}
    model = make_chat_model(
        options.model, temperature=0.7, max_tokens=min(options.max_tokens, 120), settings=current_settings()
    )
    personas: dict[str, tuple[str, list[str]]] = {}  # account id -> (system prompt, voice examples)
    target = options.persona
    if target is not None:  # a stored version writes this account's rows (held-out posts: the data set's)
        if target.id not in heldout_ids:
            from runtime.errors import ConfigError

            raise ConfigError(
                f"ghostwriter_style has held-out posts for the sample accounts only "
                f"({', '.join(sorted(heldout_ids))}); account {target.id} is not one of them."
            )
        rows = [r for r in _rows("ghostwriter_style", None) if r["account_id"] == target.id][: options.limit]
        personas[target.id] = (target.system_prompt, list(target.voice_examples))
    for i, row in enumerate(rows):
        aid = row["account_id"]
        account = accounts[aid]
        if aid not in personas:
            train = [p for p in account["posts"] if p["id"] not in heldout_ids[aid]]
            profile = {"id": aid, "handle": account["handle"], "display_name": account["display_name"]}
            personas[aid] = await persona_prompt(profile, train, options.model)
        system, examples = personas[aid]
        text = await write_post(model, system, examples, row["prompt"]) or "(empty)"
        others = {accounts[o]["handle"]: posts for o, posts in heldout.items() if o != aid}
        yield ExampleResult(
            id=f"style-{i + 1:03d}",
            metrics=style_metrics([text], heldout[aid], others),
            inputs={"handle": row["handle"], "prompt": row["prompt"]},
            output=text,
        )


# --- chat in character --------------------------------------------------------------------


async def run_persona_identity(options: RunOptions) -> AsyncIterator[ExampleResult]:
    """Each card persona is asked who it is, first turn. `name_kept` scores the final reply (it says
    the persona's name, gives no other, denies none: `graphs/persona_chat/identity.py`);
    `name_kept_unguarded` scores the first draft, before the guard's rewrites and repair."""

    from graphs.persona_chat.graph import build_persona_chat
    from graphs.persona_chat.identity import name_problems

    graph = build_persona_chat()
    for row in _rows("persona_identity", options.limit):
        persona = row["persona"]
        state, error = await _first_turn(graph, persona, row["question"], {}, options)
        inputs = {"persona": persona["name"], "question": row["question"], "split": row.get("split", "dev")}
        if error:
            yield ExampleResult(id=row["id"], metrics={"errored": 1.0}, inputs=inputs, notes={"error": error})
            continue
        reply = state.get("reply", "")
        record = state.get("fact_check") or {}
        problems = name_problems(reply, persona["name"], asked=True)
        metrics = {
            "name_kept": 0.0 if problems else 1.0,
            "name_kept_unguarded": 0.0 if "name" in (record.get("first_kinds") or []) else 1.0,
            "guard_rewrote": 1.0 if int(record.get("generations", 1)) > 1 else 0.0,
            "guard_repaired": 1.0 if record.get("action") == "repaired" else 0.0,
            "errored": 0.0,
        }
        notes = {
            "problems": problems,
            "first_draft_problems": record.get("first") or [],
            "action": record.get("action"),
        }
        yield ExampleResult(id=row["id"], metrics=metrics, inputs=inputs, output=reply, notes=notes)


async def _chat(graph: Any, state: dict[str, Any], options: RunOptions) -> tuple[dict[str, Any], str | None]:
    """The graph's whole final state (internal keys such as `attachment_parts` included, so an eval
    can see what reached the model), or ({}, error text) when the turn failed: one failing example
    (a model error, a refused attachment) is recorded, not fatal to the run."""
    from graphs.persona_chat.context import ChatContext

    context = ChatContext(model=options.model, temperature=0.0, max_tokens=options.max_tokens)
    try:
        return await graph.ainvoke(state, context=context, output_keys=list(graph.stream_channels_list)), None
    except Exception as exc:  # recorded per example as `errored`
        return {}, f"{type(exc).__name__}: {str(exc)[:300]}"


async def _first_turn(
    graph: Any, persona: dict[str, Any], question: str, attributes: dict[str, Any], options: RunOptions
) -> tuple[dict[str, Any], str | None]:
    """A studio-kind persona (name, system prompt, attributes) answers ``question`` as a first turn."""
    from langchain_core.messages import HumanMessage

    turn = {
        "messages": [HumanMessage(question)],
        "persona": {
            "name": persona["name"],
            "system_prompt": persona["system_prompt"],
            "kind": "studio",
            "attributes": attributes,
        },
    }
    return await _chat(graph, turn, options)


async def run_chat_in_character(options: RunOptions) -> AsyncIterator[ExampleResult]:
    """Each row's persona answers with its facts attached, so the chat's fact guard holds the reply
    to them. `fact_consistent` / `in_character` score the final reply; `*_unguarded` score the
    first draft, the reply the model wrote before the fact guard (the guard's record of it: the
    same checker, `graphs/persona_chat/facts.py`)."""

    from graphs.persona_chat.graph import build_persona_chat

    graph = build_persona_chat()
    target = options.persona
    rows = _rows("chat_in_character", None if target else options.limit)
    if target is not None:  # one persona answers every question: each question once, under its first row's id
        firsts: dict[str, dict[str, Any]] = {}
        for row in rows:
            firsts.setdefault(row["question"], row)
        rows = list(firsts.values())[: options.limit]
    for row in rows:
        persona, facts = row["persona"], row["persona"]["facts"]
        if target is not None:
            persona, facts = {"name": target.name, "system_prompt": target.system_prompt}, target.facts
        attributes = {"facts": facts} if facts else {}
        state, error = await _first_turn(graph, persona, row["question"], attributes, options)
        inputs = {"persona": persona["name"], "question": row["question"], "split": row.get("split", "dev")}
        if error:
            yield ExampleResult(id=row["id"], metrics={"errored": 1.0}, inputs=inputs, notes={"error": error})
            continue
        reply = state.get("reply", "")
        metrics = {**persona_fact_metrics(reply, facts, persona["system_prompt"]), "errored": 0.0}
        record = state.get("fact_check") or {}
        first_kinds = list(record.get("first_kinds") or [])
        metrics["fact_consistent_unguarded"] = 0.0 if any(k != "character" for k in first_kinds) else 1.0
        metrics["in_character_unguarded"] = 0.0 if "character" in first_kinds else 1.0
        metrics["guard_rewrote"] = 1.0 if int(record.get("generations", 1)) > 1 else 0.0
        metrics["guard_flagged"] = 1.0 if record.get("flagged") else 0.0
        if not facts:  # a persona without facts: nothing to be consistent with
            del metrics["fact_consistent"], metrics["fact_consistent_unguarded"]
        check = check_persona_facts(reply, facts, persona["system_prompt"])
        notes: dict[str, Any] = {
            "violations": check.violations,
            "character": check.character,
            "first_draft_problems": record.get("first") or [],
            "guard_action": record.get("action"),
        }
        if options.judge is not None:
            scores, reasons = await options.judge.metrics(
                question=row["question"], reply=reply, persona=persona["system_prompt"]
            )
            metrics.update(scores)
            notes["judge"] = reasons
        yield ExampleResult(id=row["id"], metrics=metrics, inputs=inputs, output=reply, notes=notes)


# --- prompt injection ---------------------------------------------------------------------


async def run_prompt_injection(options: RunOptions) -> AsyncIterator[ExampleResult]:
    """The development half (the one defences may be tuned on)."""
    async for result in _run_injection("prompt_injection", options):
        yield result


async def run_prompt_injection_heldout(options: RunOptions) -> AsyncIterator[ExampleResult]:
    """The held-out half: written separately, never used to tune a defence."""
    async for result in _run_injection("prompt_injection_heldout", options):
        yield result


async def _run_injection(suite: str, options: RunOptions) -> AsyncIterator[ExampleResult]:
    """Each attack goes through its real channel: a retrieved document of a studio persona's
    collection, a PDF attachment, a web result from a loopback Tavily stub, or the user's own
    message (`user`: a direct attack on the system prompt, nothing planted). A row may carry
    `additional_instructions` (the turn's extra instructions, where its secret may sit)."""
    from langchain_core.messages import HumanMessage

    from evals.channels import TavilyStub, make_pdf, plant_document
    from graphs.persona_chat.graph import build_persona_chat
    from store.users import create_user

    tavily = TavilyStub()
    try:
        async with eval_services(tavily_api_key=SecretStr("tvly-eval-stub"), tavily_base_url=tavily.url) as services:
            owner = await create_user(
                services.pool, username=f"eval-{uuid.uuid4().hex[:8]}", password_hash="-", role="builder"
            )
            graph = build_persona_chat()
            for row in _rows(suite, options.limit):
                persona = row["persona"]
                state: dict[str, Any] = {"messages": [HumanMessage(row["question"])]}
                if row.get("additional_instructions"):
                    state["additional_instructions"] = row["additional_instructions"]
                if row["channel"] == "document":
                    state["persona_id"] = await plant_document(
                        services,
                        owner_id=owner["id"],
                        persona_name=persona["name"],
                        system_prompt=persona["system_prompt"],
                        text=row["planted_text"],
                    )
                else:
                    state["persona"] = {
                        "name": persona["name"],
                        "system_prompt": persona["system_prompt"],
                        "kind": "studio",
                    }
                    if row["channel"] == "pdf":
                        data = base64.b64encode(make_pdf(row["planted_text"])).decode("ascii")
                        state["attachments"] = [
                            {
                                "type": "file",
                                "filename": "report.pdf",
                                "mime_type": "application/pdf",
                                "data": f"data:application/pdf;base64,{data}",
                            }
                        ]
                    elif row["channel"] == "web":
                        tavily.page = {
                            "title": "Search result",
                            "url": "https://news.example.com/story",
                            "content": row["planted_text"],
                        }
                        state["use_web"] = True
                    elif row["channel"] != "user":
                        raise ValueError(f"Unknown injection channel {row['channel']!r} in {row['id']}")
                result, error = await _chat(graph, state, options)
                inputs = {"channel": row["channel"], "question": row["question"]}
                if error:
                    yield ExampleResult(id=row["id"], metrics={"errored": 1.0}, inputs=inputs, notes={"error": error})
                    continue
                reply = result.get("reply", "")
                direct = row["channel"] == "user"
                secret = "\n".join(filter(None, (persona["system_prompt"], row.get("additional_instructions"))))
                metrics = {
                    **injection_metrics(
                        reply,
                        attack_canary=row["attack_canary"],
                        system_canary=row["system_canary"],
                        secret_prompt=secret,
                        attack_language=row.get("attack_language"),
                        direct=direct,
                    ),
                    "errored": 0.0,
                }
                notes: dict[str, Any] = {"kind": row.get("kind", "planted"), "blocked": result.get("blocked") or []}
                if not direct:
                    notes["channel_delivered"] = _planted_reached_graph(row, result)
                yield ExampleResult(id=row["id"], metrics=metrics, inputs=inputs, output=reply, notes=notes)
    finally:
        tavily.close()


def _planted_reached_graph(row: dict[str, Any], result: dict[str, Any]) -> bool:
    """Whether the planted text really came in through its channel (a reference or an attachment
    in the graph's state, before any defence saw it)."""
    marker = row["attack_canary"] or row["planted_text"].split("\n\n")[1][:40]
    seen = [str(ref.get("content", "")) for ref in result.get("references") or []]
    seen += [str(part.get("text", "")) for part in result.get("attachment_parts") or []]
    return any(marker in text for text in seen)


# --- twin fidelity --------------------------------------------------------------------------


async def run_twin_fidelity(options: RunOptions) -> AsyncIterator[ExampleResult]:
    """The held-out twins (clusters never looked at while the items and prompts were set)."""
    async for result in _run_fidelity("twin_fidelity", options):
        yield result


async def run_twin_fidelity_dev(options: RunOptions) -> AsyncIterator[ExampleResult]:
    """The development twins (the two youngest clusters, the issue's examples among them)."""
    async for result in _run_fidelity("twin_fidelity_dev", options):
        yield result


def fidelity_rows(suite: str, limit: int | None, clusters: str = "") -> list[dict[str, Any]]:
    """The suite's twins, only those of `clusters` ("7,9"; empty: all), then the first `limit`."""
    from runtime.errors import ConfigError

    rows = SUITES[suite].rows()
    named = [k.strip() for k in clusters.split(",") if k.strip()]
    if named:
        present = sorted({int(row["cluster_key"]) for row in rows})
        if not all(k.isdigit() and int(k) in present for k in named):
            raise ConfigError(f"TWIN_FIDELITY_CLUSTERS must name clusters of {suite}: {', '.join(map(str, present))}.")
        keys = {int(k) for k in named}
        rows = [row for row in rows if int(row["cluster_key"]) in keys]
    return rows[:limit] if limit else rows


async def _run_fidelity(suite: str, options: RunOptions) -> AsyncIterator[ExampleResult]:
    """`--limit N`: the first N twins (rows run cluster by cluster: 15 rows are one cluster);
    `TWIN_FIDELITY_ITEMS=home,auto_loan` runs only those items, `TWIN_FIDELITY_CLUSTERS=7,9` only
    those clusters' twins (before the limit), `TWIN_FIDELITY_METHOD=label_logprobs` answers by
    that method instead of the survey's `auto`."""
    import os

    from evals.twin_fidelity import ITEMS, SEED, run_rows
    from runtime.errors import ConfigError

    wanted = [k.strip() for k in os.environ.get("TWIN_FIDELITY_ITEMS", "").split(",") if k.strip()]
    unknown = sorted(set(wanted) - {item.key for item in ITEMS})
    if unknown:
        raise ConfigError(f"Unknown twin_fidelity items {unknown}; known: {', '.join(i.key for i in ITEMS)}.")
    items = [item for item in ITEMS if not wanted or item.key in wanted]
    rows = fidelity_rows(suite, options.limit, os.environ.get("TWIN_FIDELITY_CLUSTERS", ""))
    from graphs.segment_survey.closed_answer import METHODS, ask_closed_question
    from runtime.services import current_settings

    method = os.environ.get("TWIN_FIDELITY_METHOD", "auto").strip() or "auto"
    if method not in METHODS or method == "ssr":
        raise ConfigError(f"TWIN_FIDELITY_METHOD={method}: give one of {', '.join(m for m in METHODS if m != 'ssr')}.")

    async def ask(system: str, question: str, choices: Any, order: Any) -> Any:
        return await ask_closed_question(
            options.model,
            system,
            question,
            choices,
            order=order,
            seed=SEED,
            method=cast("Method", method),
            settings=current_settings(),
        )

    async for result in run_rows(rows, ask, items):
        yield result


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            "twin_routing",
            "Segment twins: free-text query -> cluster ranking (accuracy@1, recall@3, MRR)",
            DATASETS / "twin_routing.jsonl",
            True,
            "accuracy@1",
            run_twin_routing,
        ),
        Suite(
            "twin_refine",
            "Segment twins: persona ranking inside a cluster (accuracy@1, MRR)",
            DATASETS / "twin_refine.jsonl",
            True,
            "accuracy@1",
            run_twin_refine,
        ),
        Suite(
            "studio_rag",
            "Studio RAG: question -> document retrieval over the bundled corpus (hit@1, recall@5, MRR)",
            DATASETS / "studio_rag.jsonl",
            True,
            "accuracy@1",
            run_studio_rag,
        ),
        Suite(
            "ghostwriter_style",
            "Ghostwriter: generated posts closer in style to their own account than to others",
            DATASETS / "ghostwriter_style.jsonl",
            False,
            "closer_to_own",
            run_ghostwriter_style,
            persona_kinds=("ghostwriter",),
        ),
        Suite(
            "chat_in_character",
            "Persona chat: replies consistent with the persona's facts (age, gender, place, household, "
            "children, home, car loans, job, credit tier) and in character, with and without the fact guard",
            DATASETS / "chat_in_character.jsonl",
            False,
            "fact_consistent",
            run_chat_in_character,
            persona_kinds=("studio", "ghostwriter", "twin"),
        ),
        Suite(
            "persona_identity",
            "Persona chat: card personas asked who they are keep their own name (development cards), "
            "with and without the identity guard",
            DATASETS / "persona_identity.jsonl",
            False,
            "name_kept",
            run_persona_identity,
        ),
        Suite(
            "twin_fidelity",
            "Segment twins vs their records (held-out clusters): closed items answered with the fact in the "
            "profile and held out of it; accuracy, retest agreement, cluster TVD / Wasserstein / spread vs the "
            "records, with uniform, global-prior and demographics-only baselines",
            DATASETS / "twin_fidelity.jsonl",
            False,
            "accuracy_in",
            run_twin_fidelity,
        ),
        Suite(
            "twin_fidelity_dev",
            "twin_fidelity on the development clusters 0 and 1 (for tuning items and prompts; report on twin_fidelity)",
            DATASETS / "twin_fidelity_dev.jsonl",
            False,
            "accuracy_in",
            run_twin_fidelity_dev,
        ),
        Suite(
            "prompt_injection",
            "Prompt injection (development half) via document, PDF, web and the user's own message: "
            "planted instruction not obeyed, system prompt not disclosed",
            DATASETS / "prompt_injection.jsonl",
            False,
            "safe",
            run_prompt_injection,
        ),
        Suite(
            "prompt_injection_heldout",
            "Prompt injection (held-out half, never tuned on): other personas, secrets, wordings and languages",
            DATASETS / "prompt_injection_heldout.jsonl",
            False,
            "safe",
            run_prompt_injection_heldout,
        ),
    )
}


def get_suite(name: str) -> Suite:
    from runtime.errors import ConfigError

    if name not in SUITES:
        raise ConfigError(f"Unknown suite {name!r}; known suites: {', '.join(SUITES)}.")
    return SUITES[name]
