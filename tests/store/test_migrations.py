import psycopg

from store.migrate import apply_migrations, available_migrations


async def test_migrations_apply_once_then_no_op(fresh_db_url):
    async with await psycopg.AsyncConnection.connect(fresh_db_url) as conn:
        first = await apply_migrations(conn)
        second = await apply_migrations(conn)
        assert first == [m.version for m in available_migrations()]
        assert second == []
        recorded = await (await conn.execute("SELECT version FROM schema_migrations ORDER BY 1")).fetchall()
        assert [r[0] for r in recorded] == first


async def test_schema_has_vector_extension_and_hnsw_indexes(fresh_db_url):
    async with await psycopg.AsyncConnection.connect(fresh_db_url) as conn:
        await apply_migrations(conn)
        ext = await (await conn.execute("SELECT extname FROM pg_extension WHERE extname='vector'")).fetchall()
        assert ext == [("vector",)]
        indexes = await (
            await conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING hnsw%'")
        ).fetchall()
        assert any(name == "personas_embedding_hnsw" for name, _ in indexes)
        tables = {
            r[0]
            for r in await (await conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")).fetchall()
        }
        assert {"personas", "persona_versions", "conversations", "messages"} <= tables
