"""Character Card V3: reading V3 JSON and PNG cards (the `ccv3` chunk preferred over `chara`),
assets dropped with a warning, bad V3 fields refused, and over HTTP an import and export round
trip of a V3 card as JSON and as a PNG that carries both the V3 and the V2 card."""

from __future__ import annotations

import base64
import copy
import json
import struct
import zlib
from typing import Any

import pytest

from runtime.errors import ServiceError
from store.personas import get_chat_profile
from tests.support.studio import user_with_token
from tests.use_cases.portable.test_cards import chunk, make_png
from use_cases.portable import card as cards
from use_cases.portable import files, png

IMPORT = "/studio/personas/import"
ICON = {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}
BACKGROUND = {"type": "background", "uri": "https://example.com/forest.webp", "name": "forest", "ext": "webp"}


def v3_card(**data: Any) -> dict[str, Any]:
    """A V3 card as SillyTavern and RisuAI write one (V2 fields kept beside V3's)."""
    return {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": "Nyx",
            "nickname": "the Gatekeeper",
            "description": "{{char}} guards the Obsidian Gate for {{user}}.",
            "personality": "calm, dry humour",
            "scenario": "Dusk at the gate.",
            "first_mes": "Halt.",
            "mes_example": "",
            "creator_notes": "A hand-made V3 card.",
            "creator_notes_multilingual": {"en": "A hand-made V3 card.", "fr": "Une carte V3."},
            "system_prompt": "",
            "post_history_instructions": "",
            "alternate_greetings": ["Who goes there?"],
            "group_only_greetings": ["Halt, all of you."],
            "tags": ["fantasy"],
            "creator": "tests",
            "character_version": "3",
            "source": ["https://example.com/nyx"],
            "creation_date": 1700000000,
            "modification_date": 1700000500,
            "extensions": {"world": "Gate lore", "other_tool": {"x": 1}},
            "character_book": {
                "name": "Gate lore",
                "scan_depth": 4,
                "token_budget": 300,
                "recursive_scanning": False,
                "extensions": {},
                "entries": [
                    {
                        "keys": ["gate"],
                        "content": "The gate opens at dusk.",
                        "extensions": {"scan_depth": 2},
                        "enabled": True,
                        "insertion_order": 5,
                        "use_regex": False,
                        "constant": False,
                        "id": 1,
                        "some_future_field": [1, 2],
                    }
                ],
            },
            **data,
        },
    }


def text_chunk(keyword: bytes, card: dict[str, Any]) -> bytes:
    return chunk(b"tEXt", keyword + b"\x00" + base64.b64encode(json.dumps(card).encode()))


def png_texts(data: bytes) -> dict[str, dict[str, Any]]:
    """The card text chunks of a PNG, decoded here (not by the service's reader)."""
    assert data.startswith(png.SIGNATURE)
    pos, found = len(png.SIGNATURE), {}
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        if kind == b"tEXt":
            keyword, _, text = body.partition(b"\x00")
            found[keyword.decode("latin-1")] = json.loads(base64.b64decode(text))
        pos += 12 + length
    return found


def refused(obj: Any) -> str:
    with pytest.raises(ServiceError) as info:
        cards.read_card(obj)
    assert info.value.status == 400
    return str(info.value.detail)


def test_a_v3_card_is_read_whole():
    original = v3_card()
    card = cards.read_card(copy.deepcopy(original))
    assert (card.spec, card.name, card.warnings) == ("chara_card_v3", "Nyx", ())
    for key, value in original["data"].items():
        assert card.data[key] == value, key
    entry = card.data["character_book"]["entries"][0]
    assert entry["use_regex"] is False and entry["some_future_field"] == [1, 2]
    # {{char}} is the nickname when a V3 card has one
    assert cards.assemble_prompt(card.data, card.name).startswith(
        "the Gatekeeper guards the Obsidian Gate for the user."
    )


def test_assets_are_dropped_with_a_warning_unless_only_the_default_icon():
    card = cards.read_card(v3_card(assets=[ICON, BACKGROUND, {**BACKGROUND, "type": "emotion", "name": "happy"}]))
    assert "assets" not in card.data
    (warning,) = card.warnings
    assert "2 asset(s) (background, emotion) were dropped" in warning
    only_icon = cards.read_card(v3_card(assets=[ICON]))
    assert "assets" not in only_icon.data and only_icon.warnings == ()


def test_bad_v3_cards_are_refused():
    assert "spec_version" in refused({**v3_card(), "spec_version": "2.0"})
    assert cards.read_card({**v3_card(), "spec_version": "3.1"}).spec == "chara_card_v3"  # newer: read
    assert "group_only_greetings" in refused(v3_card(group_only_greetings="hi"))
    assert "nickname" in refused(v3_card(nickname=5))
    assert "creation_date" in refused(v3_card(creation_date="yesterday"))
    assert "creator_notes_multilingual" in refused(v3_card(creator_notes_multilingual={"en": 1}))
    assert "source" in refused(v3_card(source="https://example.com"))
    assert "assets" in refused(v3_card(assets=["icon.png"]))
    assert "no data" in refused({"spec": "chara_card_v3", "spec_version": "3.0"})
    assert "chara_card_v3" in refused({"spec": "chara_card_v4", "spec_version": "4.0", "data": {}})


def test_a_png_prefers_the_ccv3_chunk():
    v3 = v3_card()
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {**v3["data"], "name": "Old Nyx"}}
    both = make_png(text_chunk(b"chara", v2), text_chunk(b"ccv3", v3))
    imported = files.read_import(both)
    assert isinstance(imported, files.ImportedCard) and imported.png
    assert (imported.card.spec, imported.card.name) == ("chara_card_v3", "Nyx")
    # the order of the chunks does not matter, and a V3-only PNG is read too
    assert files.read_import(make_png(text_chunk(b"ccv3", v3), text_chunk(b"chara", v2))).card.name == "Nyx"  # type: ignore[union-attr]
    assert files.read_import(make_png(text_chunk(b"ccv3", v3))).card.spec == "chara_card_v3"  # type: ignore[union-attr]
    with pytest.raises(ServiceError, match="'ccv3' chunk is not base64"):
        files.read_import(make_png(chunk(b"tEXt", b"ccv3\x00%%%not base64%%%")))


async def test_a_v3_card_round_trips_as_json_and_png(services, client, script):
    script.responder = lambda messages: "Halt."
    _, builder = await user_with_token(services, client, "bob", "builder")
    original = v3_card(assets=[ICON, BACKGROUND])
    r = await client.post(
        IMPORT, headers={**builder, "content-type": "application/json"}, content=json.dumps(original).encode()
    )
    assert r.status_code == 201, r.text
    imported = r.json()
    assert (imported["persona_name"], imported["format"], imported["png"]) == ("Nyx", "card_v3", False)
    assert len(imported["warnings"]) == 1 and "1 asset(s) (background) were dropped" in imported["warnings"][0]
    pid = imported["persona_id"]
    profile = await get_chat_profile(services.pool, int(pid))
    assert profile["description"] == "A hand-made V3 card."
    assert profile["system_prompt"].startswith("the Gatekeeper guards the Obsidian Gate")

    # exported as V3: the card as it came, without its assets, with our extension added
    r = await client.get(f"/studio/personas/{pid}/export", headers=builder, params={"format": "card_v3"})
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="nyx.card.json"'
    exported = r.json()
    ours = exported["data"]["extensions"].pop("persona_service")
    expected = copy.deepcopy(original)
    del expected["data"]["assets"]
    assert exported == expected
    assert ours["kind"] == "studio" and ours["system_prompt"] == profile["system_prompt"]

    # the default export stays a V2 card, V3's fields riding along for tools that know them
    v2 = (await client.get(f"/studio/personas/{pid}/export", headers=builder)).json()
    assert (v2["spec"], v2["spec_version"]) == ("chara_card_v2", "2.0")
    assert v2["data"]["character_book"] == original["data"]["character_book"]
    assert v2["data"]["group_only_greetings"] == ["Halt, all of you."]

    # png_v3: one PNG with the V3 card (ccv3) and the V2 card (chara) for older readers
    r = await client.get(f"/studio/personas/{pid}/export", headers=builder, params={"format": "png_v3"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    png_v3 = r.content
    texts = png_texts(png_v3)
    assert set(texts) == {"ccv3", "chara"} and texts["chara"] == v2
    ccv3 = texts["ccv3"]
    assert ccv3["data"]["extensions"].pop("persona_service") == ours and ccv3 == expected
    # the plain png export has only the V2 card
    r = await client.get(f"/studio/personas/{pid}/export", headers=builder, params={"format": "png"})
    assert set(png_texts(r.content)) == {"chara"}

    # imported again from the PNG: read from ccv3, and it exports the same V3 card
    r = await client.post(IMPORT, headers=builder, files={"file": ("nyx.png", png_v3, "image/png")})
    assert r.status_code == 201, r.text
    again = r.json()
    assert (again["persona_name"], again["format"], again["png"], again["warnings"]) == ("Nyx", "card_v3", True, [])
    params = {"format": "card_v3"}
    card_again = (
        await client.get(f"/studio/personas/{again['persona_id']}/export", headers=builder, params=params)
    ).json()
    assert card_again["data"]["extensions"].pop("persona_service") == ours
    assert card_again == expected
