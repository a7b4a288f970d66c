-- Segment twins: clusters, their personas, and chat sessions per (caller, persona).
CREATE TABLE IF NOT EXISTS clusters (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    summary     TEXT NOT NULL,
    attributes  JSONB NOT NULL DEFAULT '{}'::jsonb,
    embedding   vector(384),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS clusters_embedding_hnsw ON clusters USING hnsw (embedding vector_cosine_ops);

-- Each segment persona is also a `personas` row of kind 'twin' (same id), so persona_chat can load it.
CREATE TABLE IF NOT EXISTS segment_personas (
    persona_id  BIGINT PRIMARY KEY REFERENCES personas (id) ON DELETE CASCADE,
    cluster_id  INTEGER NOT NULL REFERENCES clusters (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    gender      TEXT NOT NULL CHECK (gender IN ('Female', 'Male')),
    age_band    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    attributes  JSONB NOT NULL DEFAULT '{}'::jsonb,
    embedding   vector(384)
);
CREATE INDEX IF NOT EXISTS segment_personas_cluster_idx ON segment_personas (cluster_id, persona_id);
CREATE INDEX IF NOT EXISTS segment_personas_embedding_hnsw ON segment_personas USING hnsw (embedding vector_cosine_ops);

-- A caller's chat sessions with a twin; each maps to one checkpointer thread.
CREATE TABLE IF NOT EXISTS twin_sessions (
    caller      TEXT NOT NULL,
    persona_id  BIGINT NOT NULL REFERENCES personas (id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    thread_id   TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, persona_id, session_id)
);
CREATE INDEX IF NOT EXISTS twin_sessions_recent_idx ON twin_sessions (caller, persona_id, updated_at DESC);
