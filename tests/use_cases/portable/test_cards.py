"""Character cards and PNG cards without the database: hand-written V2 and V1 cards, the prompt a
card's fields make, PNG chunks written by an independent encoder, and hostile files."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import pytest

from runtime.errors import ServiceError
from tests.support.paths import CARDS
from use_cases.portable import card as cards
from use_cases.portable import files, png


def load(name: str) -> dict:
    return json.loads((CARDS / name).read_text(encoding="utf-8"))


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def make_png(*extra: bytes, width: int = 2, height: int = 2, after_idat: bool = True) -> bytes:
    """A PNG as card tools write it (written here, not by the exporter): the text chunks after
    the image data, an unrelated tEXt chunk before it."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress((b"\x00" + b"\xff\x00\x00" * width) * min(height, 4)))
    other = chunk(b"tEXt", b"Software\x00hand-made")
    parts = [ihdr, other, idat, *extra] if after_idat else [ihdr, *extra, other, idat]
    return png.SIGNATURE + b"".join(parts) + chunk(b"IEND", b"")


def chara_text(card: dict) -> bytes:
    return chunk(b"tEXt", b"chara\x00" + base64.b64encode(json.dumps(card).encode()))


def refused(fn, *args) -> str:
    with pytest.raises(ServiceError) as info:
        fn(*args)
    assert info.value.status == 400
    return str(info.value.detail)


def test_a_v3_card_with_only_the_default_icon_is_read_without_warnings():
    card = cards.read_card(load("wrong_spec_v3.json"))  # refused before V3 was read
    assert (card.spec, card.name, card.warnings) == ("chara_card_v3", "Nova", ())
    assert "assets" not in card.data and card.data["group_only_greetings"] == []


def test_a_v2_card_is_read_whole():
    card = cards.read_card(load("seraphina_v2.json"))
    assert card.spec == "chara_card_v2" and card.name == "Seraphina"
    data = card.data
    assert data["character_book"]["entries"][0]["keys"] == ["shadow beasts", "beasts"]
    assert data["extensions"]["depth_prompt"]["depth"] == 4
    assert data["alternate_greetings"][1].startswith("*Seraphina offers")
    assert (data["creator"], data["character_version"], data["tags"][-1]) == (
        "hand-written for the tests",
        "1.2",
        "SFW",
    )


def test_the_prompt_a_card_makes():
    card = cards.read_card(load("seraphina_v2.json"))
    prompt = cards.assemble_prompt(card.data, card.name)
    assert prompt.startswith("Write Seraphina's next reply in a gentle, descriptive style.\n\nSeraphina is a gentle")
    assert "{{" not in prompt and "{{original}}" not in prompt
    assert 'calls the user "little traveller"' in prompt
    assert "Seraphina's personality: kind, patient" in prompt
    assert "Scenario: the user wakes up in Seraphina's glade" in prompt
    assert "Example dialogue:\n<START>\nthe user: Who are you?" in prompt
    assert prompt.endswith("Stay in character as Seraphina. Never speak for the user.")
    # the greeting and the lore book are kept with the card, not put in the prompt
    assert "kneels beside you" not in prompt and "corrupted wolves" not in prompt
    # only a description: the prompt is the description
    milo = cards.read_card(load("minimal_v2.json"))
    assert cards.assemble_prompt(milo.data, milo.name) == milo.data["description"]


def test_a_v1_card_without_spec():
    card = cards.read_card(load("ada_v1.json"))
    assert card.spec == "chara_card_v1" and card.name == "Ada"
    assert card.data["first_mes"].startswith("Good afternoon")
    assert card.data["tags"] == [] and card.data["extensions"] == {}
    assert "create_date" not in card.data  # not a V1 field
    prompt = cards.assemble_prompt(card.data, card.name)
    assert prompt.startswith("Ada is a Victorian mathematician") and "to the user." in prompt and "<BOT>" not in prompt


def test_template_text_is_data():
    card = cards.read_card(load("template_text_v2.json"))
    prompt = cards.assemble_prompt(card.data, card.name)
    assert "{system}" in prompt and "{persona_prompt}" in prompt
    assert "{{config.__class__.__init__.__globals__}}" in prompt and "{{7*7}}" in prompt and "%(name)s" in prompt
    assert card.name == "Brace {persona_name}"
    # a name with braces or backslashes is inserted as it is
    assert cards.assemble_prompt({"description": "I am {{char}}."}, "A\\1 {x}") == "I am A\\1 {x}."


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        ("unknown_spec_v9.json", "Unsupported card spec 'chara_card_v9'"),
        ("no_name_v2.json", "The card has no name (data.name)"),
        ({"spec": "chara_card_v2", "spec_version": "1.0", "data": {"name": "x"}}, "Unsupported spec_version"),
        ({"spec": "chara_card_v2", "spec_version": "2.0"}, "The card has no data object"),
        ({"data": {"name": "x"}}, 'The card has no spec; a V2 card says "spec": "chara_card_v2"'),
        ({"hello": "world"}, "Not a character card: no spec and no name"),
        ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "x", "tags": "a"}}, "data.tags must be"),
        ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": 5}}, "data.name must be a string"),
        ({"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "a\nb"}}, "data.name must be one line"),
        ([1, 2], "A character card must be a JSON object"),
    ],
)
def test_bad_cards_name_their_problem(obj, problem):
    if isinstance(obj, str):
        obj = load(obj)
    assert problem in refused(cards.read_card, obj)


def test_an_overlong_prompt_is_refused():
    data = {"description": "x" * (cards.MAX_PROMPT_CHARS + 1)}
    assert "more than 60000" in refused(cards.assemble_prompt, data, "x")


def test_png_cards_written_elsewhere_are_read():
    card = load("seraphina_v2.json")
    for after_idat in (True, False):
        raw = make_png(chara_text(card), after_idat=after_idat)
        imported = files.read_import(raw)
        assert isinstance(imported, files.ImportedCard) and imported.png
        assert imported.card.data["character_book"] == card["data"]["character_book"]
    # zTXt and iTXt (compressed) chunks too
    data = json.dumps(card).encode()
    ztxt = chunk(b"zTXt", b"chara\x00\x00" + zlib.compress(base64.b64encode(data)))
    itxt = chunk(b"iTXt", b"chara\x00\x01\x00en\x00\x00" + zlib.compress(base64.b64encode(data)))
    for extra in (ztxt, itxt):
        assert files.read_import(make_png(extra)).card.name == "Seraphina"
    # a V1 card inside a PNG
    v1 = files.read_import(make_png(chara_text(load("ada_v1.json"))))
    assert v1.card.spec == "chara_card_v1"


def test_written_png_is_a_valid_png_with_the_card():
    body = json.dumps(load("minimal_v2.json")).encode()
    raw = png.write_card_png(body, seed="Milo")
    assert raw == png.write_card_png(body, seed="Milo")  # the same card, the same bytes
    assert json.loads(png.read_card_png(raw)) == load("minimal_v2.json")
    # walk it with an independent reader: every chunk's CRC, the image inflates to its size
    pos, kinds, idat = 8, [], b""
    while pos < len(raw):
        (length,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, body_ = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", raw[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body_)
        kinds.append(kind)
        idat += body_ if kind == b"IDAT" else b""
        pos += 12 + length
    assert kinds == [b"IHDR", b"tEXt", b"IDAT", b"IEND"]
    assert len(zlib.decompress(idat)) == png.HEIGHT * (1 + 3 * png.WIDTH)


def test_hostile_and_broken_pngs_are_refused():
    card = chara_text(load("minimal_v2.json"))
    good = make_png(card)
    assert "no character card" in refused(files.read_import, make_png())
    # a ccv3 chunk is read (before a chara chunk): this one holds no card
    only_v3 = chunk(b"tEXt", b"ccv3\x00" + base64.b64encode(b"{}"))
    assert "Not a character card" in refused(files.read_import, make_png(card, only_v3))
    assert "truncated" in refused(files.read_import, good[:-20])
    damaged = bytearray(good)
    damaged[40] ^= 0xFF
    assert "damaged" in refused(files.read_import, bytes(damaged))
    # a compressed card chunk that inflates to gigabytes is refused without inflating it whole
    bomb_text = zlib.compress(b"A" * (64 * 1024 * 1024), 9)
    bomb = chunk(b"zTXt", b"chara\x00\x00" + bomb_text)
    assert len(bomb) < 100_000
    assert "decompression bomb" in refused(files.read_import, make_png(bomb))
    # an image header claiming a gigapixel image
    huge = make_png(card, width=100_000, height=100_000)
    assert "100000x100000 pixels" in refused(files.read_import, huge)
    not_base64 = chunk(b"tEXt", b"chara\x00not base64!")
    assert "not base64" in refused(files.read_import, make_png(not_base64))
    bad_json = chunk(b"tEXt", b"chara\x00" + base64.b64encode(b'{"spec": '))
    assert "The PNG's card is not valid JSON" in refused(files.read_import, make_png(bad_json))


def test_other_files_are_refused_by_name():
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", b"0" * (50 * 1024 * 1024))  # a zip bomb: 50 MB of zeros
    assert "Zip archives" in refused(files.read_import, buffer.getvalue())
    assert "gzip" in refused(files.read_import, b"\x1f\x8b\x08\x00" + b"\x00" * 20)
    assert "not valid JSON" in refused(files.read_import, b"{nope")
    assert "not UTF-8" in refused(files.read_import, b"\xff\xfe{}")
    assert "The file is empty" in refused(files.read_import, b"  ")
    assert "nested" in refused(files.read_import, b"[" * 100_000 + b"]" * 100_000)
    assert "NUL character" in refused(files.read_import, b'{"name": "a\\u0000b"}')
    assert "lone surrogate" in refused(files.read_import, b'{"name": "a\\ud800b"}')
    assert "number JSON does not allow" in refused(files.read_import, b'{"name": "a", "x": 1e999}')
    assert "not valid JSON" in refused(files.read_import, b'{"name": "a", "x": NaN}')
    assert "import limit" in refused(files.read_import, b" " * (files.MAX_IMPORT_BYTES + 1))
    assert "Unsupported bundle format" in refused(files.read_import, b'{"format": "other/v9"}')
