"""persona_builder graph with the scripted fake model: node order, measured confidence,
structured-output failure, and a batch where one account's failure does not stop the others."""

from __future__ import annotations

from graphs.persona_builder import BuilderContext, build_persona_batch, build_persona_builder
from store.accounts import import_posts, upsert_account
from store.ghostwriter import current_version
from tests.support.ghostwriter import SAMPLE_POST, builder_responder, last_text, sample_account

CTX = BuilderContext(model="fake:scripted")


async def _load(services, index: int, count: int = 40) -> dict:
    account = sample_account(index)
    await upsert_account(
        services.pool, account_id=account["account_id"], handle=account["handle"], display_name=account["display_name"]
    )
    await import_posts(services.pool, account["account_id"], account["posts"][:count])
    return account


async def test_nodes_run_in_order_and_samples_use_the_drafted_prompt(services, script):
    script.responder = builder_responder
    account = await _load(services, 0)
    nodes = []
    async for update in build_persona_builder().astream(
        {"account_id": account["account_id"]}, context=CTX, stream_mode="updates"
    ):
        nodes.extend(update)
    assert nodes == ["load_posts", "pick_exemplars", "analyse_style", "draft_prompt", "validate", "save"]
    row = await current_version(services.pool, account["account_id"])
    samples = [call for call in script.calls if "Return JSON with" not in last_text(call)]
    assert len(samples) == 4
    assert all(call[0].content == row["system_prompt"] for call in samples)
    assert row["details"]["samples"] == [SAMPLE_POST] * 4


async def test_confidence_is_measured_own_style_scores_higher(services, script):
    own = await _load(services, 5)  # sarcastic sports fan
    other = sample_account(1)  # policy analyst
    own_posts = iter([p["text"] for p in own["posts"][60:70]])
    other_posts = iter([p["text"] for p in other["posts"][60:70]])

    def mimic(source):
        def respond(messages):
            if "Return JSON with" in last_text(messages):
                return '{"traits": [], "voice": "", "topics": ["the team"]}'
            return next(source)

        return respond

    script.responder = mimic(own_posts)
    first = await build_persona_builder().ainvoke({"account_id": own["account_id"]}, context=CTX)
    script.responder = mimic(other_posts)
    second = await build_persona_builder().ainvoke({"account_id": own["account_id"], "force": True}, context=CTX)
    assert first["confidence_score"] > second["confidence_score"] + 0.1
    assert second["version"] == 2


async def test_unparseable_analysis_keeps_only_measured_traits(services, script):
    account = await _load(services, 4)

    def respond(messages):
        return "not json" if "Return JSON with" in last_text(messages) else SAMPLE_POST

    script.responder = respond
    out = await build_persona_builder().ainvoke({"account_id": account["account_id"]}, context=CTX)
    assert out["style_traits"] and "writes threads (🧵, 1/ numbering)" in out["style_traits"]
    assert "playful crypto slang" not in out["style_traits"]


async def test_batch_isolates_failures(services, script):
    good, bad = await _load(services, 0, 20), await _load(services, 2, 20)

    def respond(messages):
        if f"@{bad['handle']}" in last_text(messages) or f"@{bad['handle']}" in str(messages[0].content):
            raise RuntimeError("provider down")
        return builder_responder(messages)

    script.responder = respond
    out = await build_persona_batch().ainvoke(
        {"account_ids": [good["account_id"], bad["account_id"], "missing"], "results": []},
        config={"max_concurrency": 2},
        context=CTX,
    )
    by_id = {r["account_id"]: r for r in out["results"]}
    assert by_id[good["account_id"]] == {"account_id": good["account_id"], "success": True, "persona_version": 1}
    assert by_id[bad["account_id"]] == {
        "account_id": bad["account_id"],
        "success": False,
        "error": "Persona creation failed (RuntimeError)",
    }
    assert by_id["missing"]["error"] == "Account not found"


def test_parse_analysis_takes_the_first_fitting_json_object():
    from graphs.persona_builder import parse_analysis

    parsed = parse_analysis('Here you go: {"oops": } {"traits": ["dry humour"], "voice": "wry", "topics": []} bye')
    assert parsed.traits == ["dry humour"] and parsed.voice == "wry"
    assert parse_analysis("no json here").traits == []


async def test_write_post_never_returns_a_voice_example_verbatim():
    from itertools import cycle

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    from graphs.persona_builder.post_writing import write_post

    examples = ["gm frens 🌙 stack sats", "ngmi if you sell the dip"]
    copier = GenericFakeChatModel(messages=iter(["GM frens 🌙  stack sats", "new post: wagmi 🚀"]))
    assert await write_post(copier, "You are @mia.", examples, "bitcoin") == "new post: wagmi 🚀"
    stubborn = GenericFakeChatModel(messages=cycle(["ngmi if you sell the dip"]))
    # three copies in a row: the last attempt (no examples) is returned as it is
    assert await write_post(stubborn, "You are @mia.", examples, "bitcoin") == "ngmi if you sell the dip"
    original = GenericFakeChatModel(messages=iter(["fresh take"]))
    assert await write_post(original, "You are @mia.", examples, "bitcoin") == "fresh take"
