"""Export and import over HTTP: studio cards (JSON, PNG), bundles with versions and collections,
hand-written V2 and V1 cards, hostile files, ghostwriter bundles and twin exports; round trips
give the same card and the same versions."""

from __future__ import annotations

import copy
import json
import re

import pytest

from runtime.settings import Settings
from store import versions as versions_store
from store.personas import get_chat_profile
from tests.support.ghostwriter import HEADERS, add_account, builder_responder, ghostwriter_settings, sample_account
from tests.support.paths import CARDS
from tests.support.studio import build, upload, user_with_token
from tests.support.twin import small_segments
from tests.use_cases.portable.test_cards import chara_text, make_png
from use_cases.portable import files as portable_files
from use_cases.portable.png import read_card_png
from use_cases.twin.segment_import import replace_segments

IMPORT = "/studio/personas/import"
GW = "/ghostwriter"


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


def card_file(name: str) -> bytes:
    return (CARDS / name).read_bytes()


async def export(client, headers, pid: str, fmt: str = "card_v2", **params):
    r = await client.get(f"/studio/personas/{pid}/export", headers=headers, params={"format": fmt, **params})
    assert r.status_code == 200, r.text
    return r


async def import_json(client, headers, body: bytes, status: int = 201) -> dict:
    r = await client.post(IMPORT, headers={**headers, "content-type": "application/json"}, content=body)
    assert r.status_code == status, r.text
    return r.json()


async def studio_count(services) -> int:
    async with services.pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM personas WHERE kind = 'studio'")
        return (await cur.fetchone())["n"]


async def test_studio_export_formats_and_who_may_export(services, client):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    _, other = await user_with_token(services, client, "bea", "builder")
    _, admin = await user_with_token(services, client, "ada", "admin")
    _, user = await user_with_token(services, client, "uma", "user")
    pid = await build(
        client, builder, b_id, name="Offie", system_prompt="You are Offie.", description="A marketer.", temperature=0.4
    )
    await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"system_prompt": "You are Offie, v2."})

    r = await export(client, builder, pid)
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == 'attachment; filename="offie.card.json"'
    card = r.json()
    assert (card["spec"], card["spec_version"]) == ("chara_card_v2", "2.0")
    data = card["data"]
    for key in (
        "name",
        "description",
        "personality",
        "scenario",
        "first_mes",
        "mes_example",
        "creator_notes",
        "system_prompt",
        "post_history_instructions",
        "alternate_greetings",
        "tags",
        "creator",
        "character_version",
        "extensions",
    ):
        assert key in data, key
    assert (data["name"], data["description"], data["creator_notes"]) == ("Offie", "You are Offie, v2.", "A marketer.")
    assert (data["creator"], data["character_version"]) == ("bob", "2")
    assert data["extensions"]["persona_service"] == {
        "kind": "studio",
        "system_prompt": "You are Offie, v2.",
        "model": None,
        "temperature": 0.4,
        "rag": {"db_collections": [], "query_threshold": None, "query_metric": "cosine"},
    }

    r = await export(client, builder, pid, "png")
    assert r.headers["content-type"] == "image/png" and r.content.startswith(b"\x89PNG")
    assert json.loads(read_card_png(r.content)) == card

    bundle = (await export(client, builder, pid, "bundle")).json()
    assert (bundle["format"], bundle["kind"], bundle["current_version"]) == ("persona-bundle/v1", "studio", 2)
    assert [v["version"] for v in bundle["versions"]] == [1, 2]
    assert [v["system_prompt"] for v in bundle["versions"]] == ["You are Offie.", "You are Offie, v2."]
    assert bundle["versions"][0]["created_by"] == b_id and bundle["collections"] == []

    for headers, status in ((other, 404), (user, 403), ({}, 401), (admin, 200)):
        r = await client.get(f"/studio/personas/{pid}/export", headers=headers)
        assert r.status_code == status, (headers, r.text)
    r = await client.get("/studio/personas/424242/export", headers=admin)
    assert (r.status_code, r.json()) == (404, {"detail": "Persona not found"})
    r = await client.get(f"/studio/personas/{pid}/export", headers=builder, params={"format": "zip"})
    assert r.status_code == 422


async def test_native_persona_round_trips_through_card_png_and_bundle(services, client):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    _, other = await user_with_token(services, client, "bea", "builder")
    pid = await build(client, builder, b_id, name="Gwen", system_prompt="You are Gwen, a novelist from Leeds.")
    await client.put(
        f"/studio/personas/build/{pid}",
        headers=builder,
        json={"model": "fake:scripted", "temperature": 0.7, "description": "Writes crime novels."},
    )
    card = (await export(client, builder, pid)).json()
    # a card: imported by another builder, exported again, it is the same card
    imported = await import_json(client, other, json.dumps(card).encode())
    assert imported == {
        "persona_id": imported["persona_id"],
        "persona_name": "Gwen",
        "versions_imported": 1,
        "format": "card_v2",
        "png": False,
        "warnings": [],
    }
    assert (await export(client, other, imported["persona_id"])).json() == card
    profile = await get_chat_profile(services.pool, int(imported["persona_id"]))
    assert (profile["system_prompt"], profile["model"], profile["temperature"]) == (
        "You are Gwen, a novelist from Leeds.",
        "fake:scripted",
        0.7,
    )
    # a PNG card, sent as a multipart upload
    png = (await export(client, builder, pid, "png")).content
    r = await client.post(IMPORT, headers=other, files={"file": ("gwen.png", png, "image/png")})
    assert r.status_code == 201 and r.json()["png"] is True
    again = await export(client, other, r.json()["persona_id"], "png")
    assert again.content == png
    # a bundle: every version with its settings, the same current version after a rollback
    await client.post(f"/studio/personas/{pid}/rollback/1", headers=builder)
    bundle = (await export(client, builder, pid, "bundle")).json()
    imported = await import_json(client, other, json.dumps(bundle).encode())
    assert (imported["versions_imported"], imported["format"]) == (2, "bundle")
    exported = (await export(client, other, imported["persona_id"], "bundle")).json()
    assert exported == bundle
    assert exported["current_version"] == 1 and exported["versions"][1]["changes"] == [
        "description",
        "model",
        "temperature",
    ]
    versions = (await client.get(f"/studio/personas/{imported['persona_id']}/versions", headers=other)).json()
    assert [v["version"] for v in versions["versions"]] == [2, 1]
    # the same card, but for its creator: the persona belongs to the importer now
    mine, theirs = (
        (await export(client, builder, pid)).json(),
        (await export(client, other, imported["persona_id"])).json(),
    )
    assert (mine["data"].pop("creator"), theirs["data"].pop("creator")) == ("bob", "bea") and mine == theirs


async def test_hand_written_cards(services, client, script):
    script.responder = lambda messages: "*smiles* Welcome."
    _, builder = await user_with_token(services, client, "bob", "builder")
    _, user = await user_with_token(services, client, "uma", "user")
    original = json.loads(card_file("seraphina_v2.json"))
    imported = await import_json(client, builder, card_file("seraphina_v2.json"))
    assert (imported["persona_name"], imported["format"], imported["versions_imported"]) == ("Seraphina", "card_v2", 1)
    pid = imported["persona_id"]
    profile = await get_chat_profile(services.pool, int(pid))
    assert profile["system_prompt"].startswith("Write Seraphina's next reply")
    assert "Scenario: the user wakes up in Seraphina's glade" in profile["system_prompt"]
    assert profile["description"] == original["data"]["creator_notes"]
    versions = (await client.get(f"/studio/personas/{pid}/versions", headers=builder)).json()
    assert versions["versions"][0]["changes"] == ["imported"]
    # the persona chats with the prompt the card's fields make
    r = await client.post(f"/studio/personas/{pid}/chat", headers=user, json={"content": "Where am I?"})
    assert r.status_code == 200 and r.json()["response"] == "*smiles* Welcome."
    assert "little traveller" in str(script.calls[-1][0].content)

    # exported, every field of the card is as it came; only our extension is added
    card = (await export(client, builder, pid)).json()
    ours = card["data"]["extensions"].pop("persona_service")
    assert card == original
    assert ours["kind"] == "studio" and ours["system_prompt"] == profile["system_prompt"]
    # and a second round trip changes nothing
    card = (await export(client, builder, pid)).json()
    again = await import_json(client, builder, json.dumps(card).encode())
    assert (await export(client, builder, again["persona_id"])).json() == card

    # edited here, the card's description carries the new prompt (other tools read it)
    await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"system_prompt": "Seraphina, terse."})
    edited = (await export(client, builder, pid)).json()["data"]
    assert (edited["description"], edited["personality"], edited["scenario"]) == ("Seraphina, terse.", "", "")
    assert edited["character_book"] == original["data"]["character_book"]
    assert edited["first_mes"] == original["data"]["first_mes"]

    v1 = await import_json(client, builder, card_file("ada_v1.json"))
    assert (v1["persona_name"], v1["format"]) == ("Ada", "card_v1")
    exported = (await export(client, builder, v1["persona_id"])).json()
    assert exported["spec"] == "chara_card_v2" and exported["data"]["first_mes"].startswith("Good afternoon")
    minimal = await import_json(client, builder, card_file("minimal_v2.json"))
    profile = await get_chat_profile(services.pool, int(minimal["persona_id"]))
    assert profile["system_prompt"] == "Milo is a barista in Lisbon who knows every coffee bean by its smell."
    # a PNG card made by another tool (text chunk after the image data)
    r = await client.post(
        IMPORT, headers=builder, files={"file": ("s.png", make_png(chara_text(original)), "image/png")}
    )
    assert r.status_code == 201 and r.json()["persona_name"] == "Seraphina" and r.json()["png"] is True


async def test_template_text_in_a_card_stays_plain_text(services, client, script):
    script.responder = lambda messages: "ok"
    _, builder = await user_with_token(services, client, "bob", "builder")
    _, user = await user_with_token(services, client, "uma", "user")
    original = json.loads(card_file("template_text_v2.json"))
    imported = await import_json(client, builder, card_file("template_text_v2.json"))
    assert imported["persona_name"] == "Brace {persona_name}"
    r = await client.post(f"/studio/personas/{imported['persona_id']}/chat", headers=user, json={"content": "Hi"})
    assert r.status_code == 200
    system = str(script.calls[-1][0].content)
    for text in ("{system}", "{persona_prompt}", "{{config.__class__.__init__.__globals__}}", "{{7*7}}", "%(name)s"):
        assert text in system, text
    # the per-turn canary is random hex and may hold "49" itself
    rendered = re.sub(r"ZQ[0-9A-F]{10}", "", system)
    assert "Brace {persona_name}" in system and "49" not in rendered
    card = (await export(client, builder, imported["persona_id"])).json()
    card["data"]["extensions"].pop("persona_service")
    assert card == original


async def test_hostile_files_are_refused_and_store_nothing(services, client, monkeypatch):
    _, builder = await user_with_token(services, client, "bob", "builder")
    _, user = await user_with_token(services, client, "uma", "user")
    before = await studio_count(services)

    async def refused(body: bytes, problem: str, *, multipart: bool = False) -> None:
        if multipart:
            r = await client.post(IMPORT, headers=builder, files={"file": ("x.png", body, "image/png")})
        else:
            r = await client.post(IMPORT, headers=builder, content=body)
        assert r.status_code == 400, r.text
        assert problem in r.json()["detail"], r.json()

    await refused(card_file("unknown_spec_v9.json"), "Unsupported card spec 'chara_card_v9'")
    await refused(card_file("no_name_v2.json"), "The card has no name (data.name)")
    await refused(make_png(), "The PNG has no character card", multipart=True)
    await refused(b"\x89PNG\r\n\x1a\nnonsense", "truncated", multipart=True)
    import zlib

    from tests.use_cases.portable.test_cards import chunk

    bomb = chunk(b"zTXt", b"chara\x00\x00" + zlib.compress(b"A" * (64 * 1024 * 1024), 9))
    await refused(make_png(bomb), "decompression bomb", multipart=True)
    await refused(make_png(chara_text({"name": "x"}), width=200_000, height=200_000), "decompression bomb")
    await refused(b"PK\x03\x04" + b"\x00" * 100, "Zip archives")
    card = json.loads(card_file("minimal_v2.json"))
    card["data"]["extensions"] = {"persona_service": {"system_prompt": "x", "model": "nope:model"}}
    await refused(json.dumps(card).encode(), "data.extensions.persona_service.model: Unknown model provider 'nope'")
    card["data"]["extensions"] = {"persona_service": {"system_prompt": "x", "temperature": 9}}
    await refused(json.dumps(card).encode(), "temperature must be a number from 0 to 2")
    card["data"]["extensions"] = {"persona_service": {"rag": {"query_metric": "cosine", "query_threshold": 3}}}
    await refused(json.dumps(card).encode(), "does not fit query_metric cosine")
    r = await client.post(IMPORT, headers=builder, files={"other": ("x.json", b"{}", "application/json")})
    assert (r.status_code, r.json()) == (400, {"detail": 'Send the file in a multipart form field named "file"'})
    # oversized: refused as it arrives
    monkeypatch.setattr(portable_files, "MAX_IMPORT_BYTES", 1000)
    monkeypatch.setattr("server.files.MAX_IMPORT_BYTES", 1000)
    await refused(b" " * 1001, "larger than the import limit of 1000 bytes")
    await refused(b" " * (1001 + 64 * 1024), "larger than the import limit of 1000 bytes")
    monkeypatch.undo()
    # only builders and admins import
    r = await client.post(IMPORT, headers=user, content=card_file("minimal_v2.json"))
    assert r.status_code == 403
    assert await studio_count(services) == before


async def test_bundles_bring_their_collections(services, client, script, monkeypatch):
    script.responder = lambda messages: "ok"
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    _, other = await user_with_token(services, client, "bea", "builder")
    _, user = await user_with_token(services, client, "uma", "user")
    assert (await client.post("/studio/collections", headers=builder, json={"name": "guides"})).status_code == 201
    text = "# Returns\n\nThe Lisbon shop accepts returns within 30 days with a receipt."
    assert (await upload(client, builder, "guides", "returns.md", text, path="shop/returns.md")).status_code == 201
    pid = await build(
        client, builder, b_id, system_prompt="You answer shop questions.", rag={"db_collections": ["guides"]}
    )

    lean = (await export(client, builder, pid, "bundle")).json()
    manifest = lean["collections"]
    assert manifest[0]["name"] == "guides" and manifest[0]["documents"][0]["doc_path"] == "shop/returns.md"
    assert "chunks" not in manifest[0]["documents"][0] and len(manifest[0]["documents"][0]["sha256"]) == 64
    full = (await export(client, builder, pid, "bundle", include_documents="true")).json()
    assert full["collections"][0]["documents"][0]["chunks"][0].startswith("# Returns")
    assert full["collections"][0]["documents"][0]["sha256"] == manifest[0]["documents"][0]["sha256"]

    # the owner imports it again: the collection is theirs, used as it is
    again = await import_json(client, builder, json.dumps(full).encode())
    assert again["warnings"] == []
    # another builder cannot use bob's collection: it is taken out, with a warning
    theirs = await import_json(client, other, json.dumps(lean).encode())
    assert theirs["warnings"] == ["Collection 'guides' belongs to another user here: removed from rag.db_collections"]
    listed = (await client.get(f"/studio/personas/{theirs['persona_id']}/versions", headers=other)).json()
    assert listed["versions"][0]["rag"]["db_collections"] == []

    # on a server without the collection: created from the included documents, searched by chat
    moved = json.loads(json.dumps(full).replace('"guides"', '"guides-moved"'))
    created = await import_json(client, other, json.dumps(moved).encode())
    assert created["warnings"] == []
    docs = (await client.get("/studio/collections/guides-moved/documents", headers=other)).json()
    assert [d["doc_path"] for d in docs["documents"]] == ["shop/returns.md"]
    r = await client.post(
        f"/studio/personas/{created['persona_id']}/chat",
        headers=user,
        json={"content": "Can I return something I bought in the Lisbon shop?"},
    )
    assert r.json()["rag_hit"]["doc_path"] == "shop/returns.md"
    # without the documents: named in a warning, not silently dropped
    unknown = json.loads(json.dumps(lean).replace('"guides"', '"guides-elsewhere"'))
    warned = await import_json(client, other, json.dumps(unknown).encode())
    assert warned["warnings"] == [
        "Collection 'guides-elsewhere' does not exist here and the bundle does not include its documents "
        "(export with include_documents=true): removed from rag.db_collections"
    ]

    before = await studio_count(services)
    # a tampered document is refused
    tampered = copy.deepcopy(moved)
    tampered["collections"][0]["name"] = "guides-tampered"
    tampered["versions"][0]["rag"]["db_collections"] = ["guides-tampered"]
    tampered["collections"][0]["documents"][0]["chunks"][0] = "Returns are never accepted."
    await import_json(client, other, json.dumps(tampered).encode(), status=400)
    # a failure after the collection was written leaves nothing behind (one transaction)
    fresh = json.loads(json.dumps(full).replace('"guides"', '"guides-atomic"'))

    async def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(versions_store, "_insert_versions", fail)
    r = await client.post(IMPORT, headers=other, content=json.dumps(fresh).encode())
    assert (r.status_code, r.json()) == (500, {"detail": "Internal server error."})
    monkeypatch.undo()
    assert (await client.get("/studio/collections/guides-atomic/documents", headers=other)).status_code == 404
    assert await studio_count(services) == before

    bad = copy.deepcopy(lean)
    bad["versions"][0]["version"] = 0
    r = await client.post(IMPORT, headers=other, content=json.dumps(bad).encode())
    assert (r.status_code, r.json()) == (400, {"detail": "versions[0].version must be a positive integer"})
    bad = copy.deepcopy(lean)
    bad["current_version"] = 7
    r = await client.post(IMPORT, headers=other, content=json.dumps(bad).encode())
    assert r.json() == {"detail": "The bundle's current_version 7 is not one of its versions"}
    assert await studio_count(services) == before


async def test_ghostwriter_export_and_bundle_restore(services, client, script):
    script.responder = builder_responder
    account = sample_account(0)
    aid = account["account_id"]
    await add_account(client, account, account["posts"][:60])
    other = sample_account(1)
    await add_account(client, other, other["posts"][:5])
    assert (
        await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={"post_limit": 50})
    ).status_code == 200
    assert (await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={"force": True})).status_code == 200
    assert (await client.post(f"{GW}/personas/{aid}/rollback/1", headers=HEADERS)).status_code == 200

    r = await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS)
    assert r.status_code == 200
    card = r.json()
    ours = card["data"]["extensions"]["persona_service"]
    assert ours["kind"] == "ghostwriter" and ours["version"] == 1 and ours["account"]["id"] == aid
    assert ours["style_exemplars"] and "playful crypto slang" in ours["style_traits"]
    assert card["data"]["description"] == ours["system_prompt"]
    r = await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS, params={"format": "png"})
    assert r.headers["content-type"] == "image/png" and json.loads(read_card_png(r.content)) == card
    bundle = (await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS, params={"format": "bundle"})).json()
    assert (bundle["kind"], bundle["current_version"], [v["version"] for v in bundle["versions"]]) == (
        "ghostwriter",
        1,
        [1, 2],
    )
    history = (await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS)).json()

    url = f"{GW}/personas/{aid}/import"
    body = json.dumps(bundle).encode()
    r = await client.post(url, headers=HEADERS, content=body)
    assert (r.status_code, r.json()) == (
        400,
        {"detail": "Persona already exists for this account. Use force=true to replace it with the bundle."},
    )
    await client.post(f"{GW}/personas/{aid}/refine", headers=HEADERS, json={})
    r = await client.post(url, headers=HEADERS, content=body, params={"force": "true"})
    assert r.status_code == 200, r.text
    assert r.json() == {"success": True, "account_id": aid, "persona_version": 1, "versions_imported": 2}
    after = (await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS, params={"format": "bundle"})).json()
    assert after == bundle
    assert (await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS)).json() == history

    # a bundle of another account, a card, a studio bundle, an unknown account, no key
    r = await client.post(f"{GW}/personas/{other['account_id']}/import", headers=HEADERS, content=body)
    assert r.json() == {"detail": f"The bundle is for account {aid}, not {other['account_id']}"}
    r = await client.post(url, headers=HEADERS, content=json.dumps(card).encode(), params={"force": "true"})
    assert r.status_code == 400 and "not cards" in r.json()["detail"]
    r = await client.post(f"{GW}/personas/nobody/import", headers=HEADERS, content=body)
    assert (r.status_code, r.json()) == (404, {"detail": "Account not found"})
    r = await client.get(f"{GW}/personas/{other['account_id']}/export", headers=HEADERS)
    assert (r.status_code, r.json()) == (404, {"detail": "Persona not found for this account"})
    r = await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS, params={"format": "zip"})
    assert r.status_code == 400 and r.json()["detail"].startswith("format:")
    assert (await client.get(f"{GW}/personas/{aid}/export")).status_code == 403
    assert (await client.post(url, content=body)).status_code == 403
    # a ghostwriter bundle restores a persona onto an account that has none
    fresh = sample_account(2)
    await add_account(client, fresh)
    moved = json.loads(json.dumps(bundle).replace(aid, fresh["account_id"]))
    r = await client.post(f"{GW}/personas/{fresh['account_id']}/import", headers=HEADERS, content=json.dumps(moved))
    assert r.status_code == 200 and r.json()["versions_imported"] == 2
    r = await client.get(f"{GW}/personas/{fresh['account_id']}", headers=HEADERS)
    assert r.json()["persona"]["version"] == 1
    # the studio imports the ghostwriter card as a persona of its own; a ghostwriter bundle it refuses
    _, builder = await user_with_token(services, client, "bob", "builder")
    r = await client.post(IMPORT, headers=builder, content=json.dumps(card).encode())
    assert r.status_code == 201
    r = await client.post(IMPORT, headers=builder, content=body)
    assert r.status_code == 400 and "ghostwriter bundle" in r.json()["detail"]


async def test_twin_export(services, client):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    async with services.pool.connection() as conn:
        cur = await conn.execute("SELECT persona_id FROM segment_personas ORDER BY persona_id LIMIT 1")
        pid = (await cur.fetchone())["persona_id"]
    profile = await get_chat_profile(services.pool, pid)
    r = await client.get(f"/twin/persona/{pid}/export")
    assert r.status_code == 200
    card = r.json()
    assert card["data"]["name"] == profile["name"] and card["data"]["description"] == profile["system_prompt"]
    facts = card["data"]["extensions"]["persona_service"]["facts"]
    assert facts["gender"] in ("Female", "Male") and facts["cluster_name"] in card["data"]["tags"]
    r = await client.get(f"/twin/persona/{pid}/export", params={"format": "png"})
    assert json.loads(read_card_png(r.content)) == card
    bundle = (await client.get(f"/twin/persona/{pid}/export", params={"format": "bundle"})).json()
    assert bundle["kind"] == "twin" and bundle["versions"][0]["system_prompt"] == profile["system_prompt"]
    r = await client.get("/twin/persona/999999/export")
    assert (r.status_code, r.json()) == (404, {"detail": "Persona 999999 not found"})
    # a twin card becomes a studio persona that keeps the twin's facts
    _, builder = await user_with_token(services, client, "bob", "builder")
    imported = await import_json(client, builder, json.dumps(card).encode())
    exported = (await export(client, builder, imported["persona_id"])).json()
    assert exported["data"]["extensions"]["persona_service"]["facts"] == facts
    r = await client.post(IMPORT, headers=builder, content=json.dumps(bundle).encode())
    assert r.status_code == 400 and "twin bundle" in r.json()["detail"]


def _mangled(value, path=()):
    """Copies of `value` with one field (at any depth) replaced by a value of another type."""
    odd = (None, 7, "x", [1, {}], {"a": []})
    if isinstance(value, dict):
        for key in value:
            for replacement in odd:
                copy_ = copy.deepcopy(value)
                copy_[key] = replacement
                yield (*path, key), copy_
            for where, inner in _mangled(value[key], (*path, key)):
                copy_ = copy.deepcopy(value)
                copy_[key] = inner
                yield where, copy_
    elif isinstance(value, list) and value:
        for where, inner in _mangled(value[0], (*path, 0)):
            yield where, [inner, *copy.deepcopy(value[1:])]


async def test_mangled_cards_and_bundles_are_400s_not_crashes(services, client):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    assert (await client.post("/studio/collections", headers=builder, json={"name": "kb"})).status_code == 201
    pid = await build(client, builder, b_id, system_prompt="You are Offie.", rag={"db_collections": ["kb"]})
    await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"temperature": 0.2})
    bundle = (await export(client, builder, pid, "bundle")).json()
    bundle["collections"][0]["documents"] = [
        {"doc_path": "a.md", "file_name": "a.md", "chunk_count": 1, "sha256": None, "chunks": ["Some text."]}
    ]
    bundle["collections"][0]["name"] = "kb-new"
    for version in bundle["versions"]:
        version["rag"]["db_collections"] = ["kb-new"]
    card = json.loads(card_file("seraphina_v2.json"))
    imported = await import_json(client, builder, card_file("seraphina_v2.json"))
    kept = (await export(client, builder, imported["persona_id"], "bundle")).json()  # its card fields kept
    statuses: dict[int, int] = {}
    for original in (card, bundle, kept):
        for where, mangled in _mangled(original):
            r = await client.post(IMPORT, headers=builder, content=json.dumps(mangled).encode())
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code in (201, 400), (where, r.status_code, r.text)
            if r.status_code == 400:
                assert isinstance(r.json()["detail"], str) and r.json()["detail"], where
            else:  # what was imported serves every read
                new = r.json()["persona_id"]
                for fmt in ("card_v2", "png", "bundle"):
                    r = await client.get(f"/studio/personas/{new}/export", headers=builder, params={"format": fmt})
                    assert r.status_code == 200, (where, fmt)
                assert (await client.get(f"/studio/personas/{new}/versions", headers=builder)).status_code == 200
    assert statuses[400] > 50 and statuses[201] > 50


async def test_mangled_ghostwriter_bundles_are_400s_not_crashes(services, client, script):
    script.responder = builder_responder
    account = sample_account(0)
    aid = account["account_id"]
    await add_account(client, account, account["posts"][:40])
    assert (await client.post(f"{GW}/personas/{aid}/create", headers=HEADERS, json={})).status_code == 200
    bundle = (await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS, params={"format": "bundle"})).json()
    for where, mangled in _mangled(bundle):
        r = await client.post(
            f"{GW}/personas/{aid}/import", headers=HEADERS, params={"force": "true"}, content=json.dumps(mangled)
        )
        assert r.status_code in (200, 400), (where, r.status_code, r.text)
        if r.status_code == 200:  # what was restored serves every read
            for path in (f"/personas/{aid}", f"/personas/{aid}/history", "/personas/list", "/personas/analytics"):
                assert (await client.get(GW + path, headers=HEADERS)).status_code == 200, (where, path)
    r = await client.post(
        f"{GW}/personas/{aid}/import", headers=HEADERS, params={"force": "1"}, content=json.dumps(bundle)
    )
    assert r.status_code == 200
    after = (await client.get(f"{GW}/personas/{aid}/export", headers=HEADERS, params={"format": "bundle"})).json()
    assert after == bundle
