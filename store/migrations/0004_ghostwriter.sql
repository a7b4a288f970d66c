-- Account ghostwriters: tracked X accounts, their posts, the persona of each
-- account (a `personas` row of kind 'ghostwriter') and per-API-key budgets.
CREATE TABLE IF NOT EXISTS accounts (
    id           TEXT PRIMARY KEY,
    handle       TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    avatar_url   TEXT NOT NULL DEFAULT '',
    active       BOOLEAN NOT NULL DEFAULT true,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS posts (
    id          TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    text        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    replies     BIGINT NOT NULL DEFAULT 0 CHECK (replies >= 0),
    reposts     BIGINT NOT NULL DEFAULT 0 CHECK (reposts >= 0),
    likes       BIGINT NOT NULL DEFAULT 0 CHECK (likes >= 0),
    views       BIGINT NOT NULL DEFAULT 0 CHECK (views >= 0),
    imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS posts_account_created_idx ON posts (account_id, created_at DESC, id DESC);

-- One ghostwriter persona per account; its versions live in persona_versions.
CREATE TABLE IF NOT EXISTS ghostwriter_personas (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    persona_id BIGINT NOT NULL UNIQUE REFERENCES personas (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Token usage per API key (sha256 of the key) and budget period.
CREATE TABLE IF NOT EXISTS api_budgets (
    key_hash     TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    used_tokens  BIGINT NOT NULL DEFAULT 0,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (key_hash, period_start)
);
