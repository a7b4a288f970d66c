"""PNG character cards: the card's JSON, base64-encoded, in a `chara` tEXt chunk (V2 and V1), as
SillyTavern, Chub and the other card tools write it, and a V3 card in a `ccv3` chunk. A V3 PNG
usually carries a V2 `chara` chunk too, for older readers: reading prefers `ccv3` (as the V3 spec
says), writing a V3 card writes both.

Only the standard library: the format needs chunk framing, CRC-32 and zlib, and reading a card
never decodes the image. Reading is bounded: the file's size is capped by the caller, every
chunk's length and CRC are checked, a compressed text chunk (zTXt, or iTXt with its flag set)
is inflated with a cap (a decompression bomb is refused, not expanded), and an image header
claiming more than `MAX_PIXELS` is refused.

Written cards get a plain image of one colour picked from the persona's name, so the same card
always gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import zlib
from functools import lru_cache

from runtime.errors import ServiceError

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORD = "chara"
V3_KEYWORD = "ccv3"
MAX_TEXT_BYTES = 8 * 1024 * 1024  # a card's JSON, inflated
MAX_SIDE = 8192
MAX_PIXELS = MAX_SIDE * MAX_SIDE
MAX_CHUNKS = 100_000
WIDTH, HEIGHT = 400, 600  # the usual 2:3 card portrait


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@lru_cache(maxsize=64)
def _image(seed: str) -> tuple[bytes, bytes]:
    """IHDR and IDAT of a WIDTHxHEIGHT RGB image of one soft colour derived from `seed`."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    rgb = bytes(96 + b % 128 for b in digest[:3])
    row = b"\x00" + rgb * WIDTH  # filter type 0, then the pixels
    ihdr = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return ihdr, zlib.compress(row * HEIGHT, 9)


def _text(keyword: str, card_json: bytes) -> bytes:
    return _chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + base64.b64encode(card_json))


def write_card_png(card_json: bytes, seed: str, v3_json: bytes | None = None) -> bytes:
    """A PNG card: a plain image with `card_json` (a V2 card, UTF-8 JSON) as base64 in a `chara`
    tEXt chunk and, given `v3_json`, that V3 card in a `ccv3` chunk."""
    ihdr, idat = _image(seed)
    texts = _text(CARD_KEYWORD, card_json) + (_text(V3_KEYWORD, v3_json) if v3_json is not None else b"")
    return SIGNATURE + _chunk(b"IHDR", ihdr) + texts + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _inflate(data: bytes, keyword: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_TEXT_BYTES + 1)
    except zlib.error:
        raise ServiceError(f"The PNG's compressed {keyword!r} text chunk is damaged") from None
    if len(out) > MAX_TEXT_BYTES or inflater.unconsumed_tail:
        raise ServiceError(
            f"The PNG's compressed {keyword!r} text chunk inflates beyond {MAX_TEXT_BYTES} bytes "
            "(a decompression bomb?); refused"
        )
    return out


def _text_chunk(kind: bytes, body: bytes) -> tuple[str, bytes] | None:
    """(keyword, text bytes) of a tEXt, zTXt or iTXt chunk whose keyword names a card, else None."""
    keyword_bytes, sep, rest = body.partition(b"\x00")
    if not sep:
        return None
    keyword = keyword_bytes.decode("latin-1")
    if keyword.lower() not in (CARD_KEYWORD, V3_KEYWORD):
        return None
    if kind == b"tEXt":
        return keyword, rest
    if kind == b"zTXt":
        return keyword, _inflate(rest[1:], keyword)  # rest[0]: the compression method (0, zlib)
    # iTXt: compression flag, method, language tag \0, translated keyword \0, text (UTF-8)
    if len(rest) < 2:
        return None
    compressed, after = rest[0], rest[2:]
    _, _, after = after.partition(b"\x00")
    _, _, text = after.partition(b"\x00")
    return keyword, _inflate(text, keyword) if compressed else text


def _decode_card_text(text: bytes, keyword: str) -> bytes:
    """The card JSON of a `chara` or `ccv3` chunk: base64 (as written everywhere), or plain JSON."""
    stripped = text.strip()
    if stripped.startswith(b"{"):
        return stripped
    try:
        return base64.b64decode(b"".join(stripped.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError(f"The PNG's {keyword!r} chunk is not base64-encoded card JSON") from None


def _chunk_at(data: bytes, pos: int) -> tuple[bytes, bytes, int]:
    """(type, body, position after the chunk) of the checked chunk at `pos`."""
    if pos + 12 > len(data):
        raise ServiceError("The PNG is truncated (a chunk is cut off)")
    length, kind = struct.unpack(">I4s", data[pos : pos + 8])
    end = pos + 8 + length
    if length > 0x7FFFFFFF or end + 4 > len(data):
        raise ServiceError("The PNG is truncated or damaged: a chunk runs past the end of the file")
    if not kind.isalpha():
        raise ServiceError("The PNG is damaged: a chunk has an invalid type")
    body = data[pos + 8 : end]
    (crc,) = struct.unpack(">I", data[end : end + 4])
    if zlib.crc32(kind + body) != crc:
        raise ServiceError(f"The PNG is damaged: the CRC of a {kind.decode('ascii')} chunk does not match")
    return kind, body, end + 4


def _check_header(kind: bytes, body: bytes) -> None:
    if kind != b"IHDR" or len(body) != 13:
        raise ServiceError("The PNG is damaged: it does not start with an image header")
    width, height = struct.unpack(">II", body[:8])
    if width * height > MAX_PIXELS:
        raise ServiceError(
            f"The PNG's image is {width}x{height} pixels, more than {MAX_SIDE}x{MAX_SIDE} "
            "(a decompression bomb?); refused"
        )


def read_card_png(data: bytes) -> bytes:
    """The card JSON (bytes) inside a PNG card, the `ccv3` chunk's when there is one; a
    ServiceError naming the problem otherwise."""
    if not data.startswith(SIGNATURE):
        raise ServiceError("Not a PNG file")
    pos, count = len(SIGNATURE), 0
    cards: dict[str, bytes] = {}
    while True:
        if pos >= len(data):
            raise ServiceError("The PNG is truncated (no IEND chunk)")
        kind, body, pos = _chunk_at(data, pos)
        if count == 0:
            _check_header(kind, body)
        count += 1
        if count > MAX_CHUNKS:
            raise ServiceError(f"The PNG has more than {MAX_CHUNKS} chunks; refused")
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            found = _text_chunk(kind, body)
            if found is not None:
                cards.setdefault(found[0].lower(), found[1])
        if kind == b"IEND":
            break
    for keyword in (V3_KEYWORD, CARD_KEYWORD):
        if keyword in cards:
            return _decode_card_text(cards[keyword], keyword)
    raise ServiceError("The PNG has no character card (no 'chara' or 'ccv3' text chunk)")
