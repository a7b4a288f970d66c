"""Studio RAG: uploads (real pypdf), replace-on-reupload, thresholds for both metrics,
collection isolation, and quoted references in the model's prompt."""

from __future__ import annotations

import re

from evals.channels import make_pdf
from retrievers.documents import DocumentCollectionRetriever
from store.documents import search_chunks
from tests.support.studio import build, upload, user_with_token

CORPUS = {
    "bees.md": "Honeybees communicate the direction of flowers with a waggle dance inside the hive.",
    "volcano.md": "Mount Etna in Sicily is one of the most active volcanoes, erupting lava several times a year.",
    "tea.md": "Green tea is steeped at about 80 degrees Celsius for two minutes to avoid bitterness.",
}
QUESTION = "How do bees tell each other where the flowers are?"


async def _setup(services, client):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    _, user = await user_with_token(services, client, "uma", "user")
    for name in ("nature", "kitchen"):
        assert (await client.post("/studio/collections", headers=builder, json={"name": name})).status_code == 201
    for file_name, text in CORPUS.items():
        coll = "kitchen" if file_name == "tea.md" else "nature"
        assert (await upload(client, builder, coll, file_name, text)).status_code == 201
    return b_id, builder, user


async def _top(services, metric: str, collections=("nature",)) -> dict:
    vector = services.require_embeddings().embed_query(QUESTION)
    rows = await search_chunks(services.pool, query_vector=vector, collections=list(collections), metric=metric, k=1)
    return rows[0]


async def test_cosine_threshold_just_above_and_below_the_top_hit(services, client, script):
    script.responder = lambda messages: "answer"
    b_id, builder, user = await _setup(services, client)
    top = await _top(services, "cosine")
    assert top["doc_path"] == "bees.md"
    sim = float(top["cosine_similarity"])
    pid = await build(
        client,
        builder,
        b_id,
        rag={"db_collections": ["nature"], "query_metric": "cosine", "query_threshold": round(sim - 0.001, 6)},
    )
    r = (await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": QUESTION})).json()
    hit = r["rag_hit"]
    assert hit["success"] == "true" and hit["doc_path"] == "bees.md" and hit["file_name"] == "bees.md"
    assert hit["document_string"] == CORPUS["bees.md"]
    assert abs(float(hit["cosine_similarity"]) - sim) < 1e-3
    assert abs(float(hit["euclidean_distance"]) - float(top["euclidean_distance"])) < 1e-3
    assert all(isinstance(v, str) for v in hit.values())
    system = script.calls[-1][0].content
    # the hit reaches the model as quoted data, between the turn's two random delimiter lines
    delimiters = re.findall(r"=====REF-[0-9A-F]+=====", system)
    assert len(delimiters) >= 2 and len(set(delimiters)) == 1 and CORPUS["bees.md"] in system
    first, last = system.index(delimiters[0]), system.rindex(delimiters[0])
    assert first < system.index(CORPUS["bees.md"]) < last

    r = await client.put(
        f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_threshold": round(sim + 0.001, 6)}}
    )
    assert r.status_code == 200
    r = (await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": QUESTION})).json()
    assert r["rag_hit"]["success"] == "false"
    assert CORPUS["bees.md"] not in script.calls[-1][0].content


async def test_euclidean_threshold_just_above_and_below_the_top_hit(services, client, script):
    script.responder = lambda messages: "answer"
    b_id, builder, user = await _setup(services, client)
    top = await _top(services, "euclidean")
    dist = float(top["euclidean_distance"])
    pid = await build(
        client,
        builder,
        b_id,
        rag={"db_collections": ["nature"], "query_metric": "euclidean", "query_threshold": round(dist + 0.001, 6)},
    )
    r = (await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": QUESTION})).json()
    assert r["rag_hit"]["success"] == "true" and r["rag_hit"]["doc_path"] == "bees.md"
    hid = r["message_history_id"]
    await client.put(
        f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"query_threshold": round(dist - 0.001, 6)}}
    )
    r = (
        await client.post(
            f"/studio/personas/{pid}/chat", headers=user, json={"content": QUESTION, "message_history_id": hid}
        )
    ).json()
    # a later turn in the same history does not keep the earlier turn's hit
    assert r["rag_hit"] == {
        "file_name": "",
        "doc_path": "",
        "document_string": "",
        "euclidean_distance": "",
        "cosine_similarity": "",
        "success": "false",
    }


async def test_persona_without_collections_never_hits(services, client, script):
    script.responder = lambda messages: "answer"
    b_id, builder, user = await _setup(services, client)
    plain = await build(client, builder, b_id)
    empty = await build(client, builder, b_id, name="Empty", rag={"db_collections": [], "query_threshold": -1.0})
    for pid in (plain, empty):
        for question in (QUESTION, CORPUS["bees.md"]):
            r = (await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": question})).json()
            assert r["rag_hit"]["success"] == "false"
            assert "=====REF-" not in script.calls[-1][0].content


async def test_retriever_never_leaves_its_collections(services, client, script):
    await _setup(services, client)
    retriever = DocumentCollectionRetriever(
        pool=services.pool,
        embeddings=services.require_embeddings(),
        collections=["kitchen"],
        metric="cosine",
        threshold=-1.0,
        k=10,
    )
    docs = await retriever.ainvoke(QUESTION)  # the best match overall (bees) is in another collection
    assert docs and {d.metadata["collection"] for d in docs} == {"kitchen"}
    exact = await search_chunks(
        services.pool,
        query_vector=services.require_embeddings().embed_query(QUESTION),
        collections=["nature"],
        metric="euclidean",
        k=5,
        exact=True,
    )
    indexed = await search_chunks(
        services.pool,
        query_vector=services.require_embeddings().embed_query(QUESTION),
        collections=["nature"],
        metric="euclidean",
        k=5,
        exact=False,
    )
    assert [r["id"] for r in exact] == [r["id"] for r in indexed]


async def test_pdf_upload_reupload_replace_list_and_delete(services, client, script):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    assert (await client.post("/studio/collections", headers=builder, json={"name": "manuals"})).status_code == 201
    pdf = make_pdf("The Zephyr blender has a turbo button that crushes ice in nine seconds.")
    r = await upload(client, builder, "manuals", "zephyr.pdf", pdf, "application/pdf", path="kitchen/zephyr.pdf")
    assert r.status_code == 201, r.text
    assert r.json() == {
        "collection": "manuals",
        "file_name": "zephyr.pdf",
        "doc_path": "kitchen/zephyr.pdf",
        "chunks": 1,
    }
    vector = services.require_embeddings().embed_query("How fast does the blender crush ice?")
    rows = await search_chunks(services.pool, query_vector=vector, collections=["manuals"], k=3)
    assert "turbo button" in rows[0]["content"]

    # re-upload replaces, never duplicates
    r = await upload(
        client,
        builder,
        "manuals",
        "zephyr.pdf",
        make_pdf("Now it crushes ice in five seconds."),
        "application/pdf",
        path="kitchen/zephyr.pdf",
    )
    assert r.status_code == 201
    listing = (await client.get("/studio/collections/manuals/documents", headers=builder)).json()
    assert [(d["doc_path"], d["chunks"]) for d in listing["documents"]] == [("kitchen/zephyr.pdf", 1)]
    rows = await search_chunks(services.pool, query_vector=vector, collections=["manuals"], k=5)
    assert len(rows) == 1 and "five seconds" in rows[0]["content"]

    # broken and hostile uploads fail alone, with a clear 400/413
    r = await upload(
        client, builder, "manuals", "broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "application/pdf"
    )
    assert r.status_code == 400 and r.json()["detail"]
    r = await upload(client, builder, "manuals", "evil.exe", b"MZ...", "application/octet-stream")
    assert r.status_code == 400
    r = await upload(client, builder, "manuals", "notes.md", "hello", path="../../etc/passwd")
    assert (r.status_code, r.json()["detail"].startswith("Invalid document path")) == (400, True)
    services.settings.studio_max_upload_bytes = 1000
    r = await upload(client, builder, "manuals", "big.txt", "x " * 1000, "text/plain")
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    services.settings.studio_max_upload_bytes = 20_000_000
    for name, text, ctype in (
        ("page.html", "<html><title>T</title><script>x()</script><p>Hello page</p></html>", "text/html"),
        ("rows.csv", "name,age\nAna,31\n", "text/csv"),
        ("notes.txt", "plain notes", "text/plain"),
    ):
        assert (await upload(client, builder, "manuals", name, text, ctype)).status_code == 201, name
    listing = (await client.get("/studio/collections/manuals/documents", headers=builder)).json()
    assert sorted(d["doc_path"] for d in listing["documents"]) == [
        "kitchen/zephyr.pdf",
        "notes.txt",
        "page.html",
        "rows.csv",
    ]
    collections = (await client.get("/studio/collections", headers=builder)).json()["collections"]
    assert [(c["name"], c["documents"]) for c in collections] == [("manuals", 4)]

    r = await client.delete("/studio/collections/manuals/documents/kitchen/zephyr.pdf", headers=builder)
    assert r.status_code == 200 and r.json()["chunks"] == 1
    r = await client.delete("/studio/collections/manuals/documents/kitchen/zephyr.pdf", headers=builder)
    assert (r.status_code, r.json()) == (404, {"detail": "Document not found"})
    r = await upload(client, builder, "nope", "a.md", "text")
    assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})


async def test_delete_collection_refused_while_a_persona_uses_it(services, client, script):
    import pytest

    from store import documents as docs_store

    script.responder = lambda messages: "answer"
    b_id, builder, user = await _setup(services, client)  # nature: bees, volcano; kitchen: tea
    admin_id, admin = await user_with_token(services, client, "ada", "admin")
    _, other = await user_with_token(services, client, "bea", "builder")
    pid = await build(client, builder, b_id, rag={"db_collections": ["nature", "kitchen"]})

    # another builder cannot see it, a plain user may not delete, unknown names are 404
    for headers, name, code in ((other, "nature", 404), (admin, "nope", 404), (user, "nature", 403)):
        r = await client.delete(f"/studio/collections/{name}", headers=headers)
        assert r.status_code == code, (name, code)
        if code == 404:
            assert r.json() == {"detail": "Collection not found"}

    # in use: 409 naming the persona, nothing deleted; another owner's persona is only counted
    r = await client.delete("/studio/collections/nature", headers=builder)
    assert (r.status_code, r.json()) == (
        409,
        {
            "detail": f"Collection 'nature' is still used by persona {pid}: "
            "remove it from their rag.db_collections first"
        },
    )
    admin_pid = await build(client, admin, admin_id, name="Admin's", rag={"db_collections": ["kitchen"]})
    r = await client.delete("/studio/collections/kitchen", headers=builder)
    assert (r.status_code, r.json()["detail"]) == (
        409,
        f"Collection 'kitchen' is still used by persona {pid} and "
        "1 persona of other users: remove it from their "
        "rag.db_collections first",
    )
    r = await client.delete("/studio/collections/kitchen", headers=admin)
    assert r.status_code == 409 and f"personas {pid}, {admin_pid}:" in r.json()["detail"]
    listing = (await client.get("/studio/collections/nature/documents", headers=builder)).json()["documents"]
    assert sorted(d["doc_path"] for d in listing) == ["bees.md", "volcano.md"]

    # once no persona names it, the collection and its chunks go
    assert (
        await client.put(
            f"/studio/personas/build/{pid}", headers=builder, json={"rag": {"db_collections": ["kitchen"]}}
        )
    ).status_code == 200
    r = await client.delete("/studio/collections/nature", headers=builder)
    assert (r.status_code, r.json()) == (
        200,
        {"message": "Collection deleted successfully", "collection": "nature", "documents": 2, "chunks": 2},
    )
    vector = services.require_embeddings().embed_query(QUESTION)
    assert await search_chunks(services.pool, query_vector=vector, collections=["nature"], k=5) == []
    assert [c["name"] for c in (await client.get("/studio/collections", headers=builder)).json()["collections"]] == [
        "kitchen"
    ]
    r = await client.get("/studio/collections/nature/documents", headers=builder)
    assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})
    assert (await client.delete("/studio/collections/nature", headers=builder)).status_code == 404
    # the persona still works on what it has left, and the name can be used again
    r = await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": CORPUS["tea.md"]})
    assert r.status_code == 200 and r.json()["rag_hit"]["doc_path"] == "tea.md"
    assert (await client.post("/studio/collections", headers=other, json={"name": "nature"})).status_code == 201
    # an upload that finishes after its collection was deleted is a 404, not a database error
    with pytest.raises(docs_store.CollectionNotFound):
        await docs_store.replace_document(
            services.pool, collection="gone", file_name="a.md", doc_path="a.md", chunks=["text"], embeddings=[vector]
        )


async def test_run_input_cannot_widen_a_personas_collections(services, client, script):
    from langchain_core.messages import HumanMessage

    from graphs.persona_chat.context import ChatContext
    from graphs.persona_chat.graph import build_persona_chat

    script.responder = lambda messages: "answer"
    b_id, builder, _ = await _setup(services, client)
    pid = int(await build(client, builder, b_id))
    graph = build_persona_chat(services.checkpointer)
    ctx = ChatContext(model="fake:scripted")
    sneaky = {
        "collections": ["nature"],
        "use_documents": True,
        "rag": {"db_collections": ["nature"], "query_threshold": -1.0},
    }
    out = await graph.ainvoke(
        {"messages": [HumanMessage(QUESTION)], "persona_id": pid, **sneaky},
        {"configurable": {"thread_id": "t-sneaky"}},
        context=ctx,
    )
    assert out["rag_hit"]["success"] == "false" and out["references"] == []
    inline = {
        "name": "Inline",
        "system_prompt": "",
        "attributes": {"rag": {"db_collections": ["nature"], "query_threshold": -1.0}},
    }
    out = await graph.ainvoke(
        {"messages": [HumanMessage(QUESTION)], "persona": inline},
        {"configurable": {"thread_id": "t-inline"}},
        context=ctx,
    )
    assert out["rag_hit"]["success"] == "false"
    assert CORPUS["bees.md"] not in script.calls[-1][0].content


async def test_persona_write_racing_a_collection_delete_never_names_a_deleted_collection(services, client, script):
    """A delete holds the collection row (FOR UPDATE) while a build that already passed the
    existence check tries to save: the build waits, then sees the collection gone (400)."""
    import asyncio

    import psycopg

    b_id, builder, _ = await _setup(services, client)
    async with await psycopg.AsyncConnection.connect(services.database_url) as deleter:
        async with deleter.transaction():
            await deleter.execute("SELECT name FROM document_collections WHERE name = 'nature' FOR UPDATE")
            build_task = asyncio.create_task(
                client.post(
                    "/studio/personas/build",
                    headers=builder,
                    json={
                        "persona_name": "Racer",
                        "creator_id": b_id,
                        "rag": {"db_collections": ["nature", "kitchen"]},
                    },
                )
            )
            for _ in range(400):  # until the build's transaction waits on our row lock
                cur = await deleter.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if (await cur.fetchone())[0]:
                    break
                assert not build_task.done(), build_task.result().text
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the build never waited for the collection lock")
            await deleter.execute("DELETE FROM document_collections WHERE name = 'nature'")
        r = await build_task
    assert r.status_code == 400 and r.json() == {"detail": "Unknown collection(s) in rag.db_collections: nature"}
    owned = (await client.get("/studio/personas/owned", headers=builder)).json()
    assert "Racer" not in owned.values()
