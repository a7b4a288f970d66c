"""`personas export` and `personas import` on a fresh database: the files they write are the API's,
cards and bundles come back in, and a bad file or a missing owner stops with one sentence."""

from __future__ import annotations

import asyncio
import json

import pytest

import runtime.services
from runtime.services import set_current_services
from runtime.settings import Settings, get_settings
from server.cli import main
from tests.support.ghostwriter import HEADERS, add_account, builder_responder, ghostwriter_settings, sample_account
from tests.support.paths import CARDS
from tests.support.studio import build, user_with_token
from use_cases.portable.png import read_card_png


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


@pytest.fixture
def cli_env(settings, local_embeddings, monkeypatch, tmp_path):
    for key, value in {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "EMBEDDING_MODEL": "local:all-minilm-l6-v2",
        "CHAT_MODEL": "fake:scripted",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runtime.services, "make_embeddings", lambda name, _settings: local_embeddings)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


async def personas(services, *args) -> int:
    try:
        return await asyncio.to_thread(main, [str(a) for a in args])
    finally:
        set_current_services(services)


async def test_studio_export_and_import(services, client, cli_env, capsys):
    b_id, builder = await user_with_token(services, client, "bob", "builder")
    await user_with_token(services, client, "uma", "user")
    pid = await build(client, builder, b_id, name="Offie", system_prompt="You are Offie.")
    await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"temperature": 0.3})
    for fmt in ("card_v2", "png", "bundle"):
        out = cli_env / f"offie-{fmt}"
        assert await personas(services, "export", "studio", pid, "--format", fmt, "-o", out) == 0
        api = await client.get(f"/studio/personas/{pid}/export", headers=builder, params={"format": fmt})
        assert out.read_bytes() == api.content, fmt
    assert f"Wrote the studio persona {pid} as bundle" in capsys.readouterr().out
    assert json.loads(read_card_png((cli_env / "offie-png").read_bytes()))["data"]["name"] == "Offie"
    # without -o the file is named after the persona
    assert await personas(services, "export", "studio", pid) == 0
    assert (cli_env / "offie.card.json").is_file()

    assert await personas(services, "import", CARDS / "seraphina_v2.json", "--owner", "bob") == 0
    out = capsys.readouterr().out
    assert "Imported studio persona" in out and "'Seraphina' for bob (1 version(s) from a card_v2)" in out
    owned = (await client.get("/studio/personas/owned", headers=builder)).json()
    assert sorted(owned.values()) == ["Offie", "Seraphina"]
    assert await personas(services, "import", cli_env / "offie-bundle", "--owner", "bob") == 0
    assert "(2 version(s) from a bundle)" in capsys.readouterr().out

    assert await personas(services, "import", CARDS / "ada_v1.json") == 2
    assert "--owner USERNAME" in capsys.readouterr().err
    assert await personas(services, "import", CARDS / "ada_v1.json", "--owner", "uma") == 2
    assert "is a user; personas belong to builders and admins" in capsys.readouterr().err
    assert await personas(services, "import", CARDS / "unknown_spec_v9.json", "--owner", "bob") == 2
    assert "unknown_spec_v9.json: Unsupported card spec 'chara_card_v9'" in capsys.readouterr().err
    assert await personas(services, "import", cli_env / "missing.json", "--owner", "bob") == 2
    assert await personas(services, "export", "studio", "424242") == 2
    assert "error: Persona not found" in capsys.readouterr().err
    assert len((await client.get("/studio/personas/owned", headers=builder)).json()) == 3


async def test_ghostwriter_and_twin(services, client, cli_env, script, capsys):
    script.responder = builder_responder
    account = sample_account(0)
    aid = account["account_id"]
    await add_account(client, account, account["posts"][:40])
    assert (await client.post(f"/ghostwriter/personas/{aid}/create", headers=HEADERS, json={})).status_code == 200
    bundle = cli_env / "gw.bundle.json"
    assert await personas(services, "export", "ghostwriter", aid, "--format", "bundle", "-o", bundle) == 0
    assert await personas(services, "import", bundle) == 2
    assert "Use force=true to replace it" in capsys.readouterr().err
    assert await personas(services, "import", bundle, "--force") == 0
    assert f"Restored 1 version(s) of the ghostwriter persona of account {aid}" in capsys.readouterr().out

    from tests.support.twin import small_segments
    from use_cases.twin.segment_import import replace_segments

    await replace_segments(services.pool, small_segments(), services.embeddings)
    async with services.pool.connection() as conn:
        cur = await conn.execute("SELECT min(persona_id) AS id FROM segment_personas")
        twin = (await cur.fetchone())["id"]
    assert await personas(services, "export", "twin", twin, "-o", cli_env / "twin.json") == 0
    card = json.loads((cli_env / "twin.json").read_text())
    assert card["data"]["extensions"]["persona_service"]["kind"] == "twin"
    assert await personas(services, "export", "twin", "x") == 2
