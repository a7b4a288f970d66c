"""Personas that travel: the file formats of export and import, shared by the three APIs.

card    Character Card V3 (`chara_card_v3`) and V2 (`chara_card_v2`, read and written by
        SillyTavern, Chub, RisuAI, Agnai, ...) and V1 cards: read, check, write; a card's fields
        assembled into a system prompt
png     PNG cards: the card as base64 JSON in a `chara` (V2) and/or `ccv3` (V3) tEXt chunk (read
        and write, stdlib only)
files   an uploaded file: size limit, which format it is, JSON that Postgres can store; the
        exported file (name, media type, bytes)

The use cases that read and write personas are in `use_cases.studio.transfer`,
`use_cases.ghostwriter.transfer` and `use_cases.twin.transfer`. A bad file is a `ServiceError`
(400) whose sentence names the problem; nothing of a refused file is stored.
"""
