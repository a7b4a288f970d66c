-- A studio version records every setting it can change, so a rollback restores all of them
-- and any version can be run as it was (evals). `name` NULL marks a version without these
-- settings (ghostwriter and twin versions: their settings stay on the persona row).
-- `changes` names what the version changed; `created_by` is the user who made it.
ALTER TABLE persona_versions
    ADD COLUMN IF NOT EXISTS name        TEXT,
    ADD COLUMN IF NOT EXISTS description TEXT,
    ADD COLUMN IF NOT EXISTS model       TEXT,
    ADD COLUMN IF NOT EXISTS temperature DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS attributes  JSONB,
    ADD COLUMN IF NOT EXISTS created_by  TEXT,
    ADD COLUMN IF NOT EXISTS changes     JSONB NOT NULL DEFAULT '[]'::jsonb;

-- Studio versions saved before this migration: the persona's settings now are the best record
-- of what they ran with.
UPDATE persona_versions v
   SET name = p.name, description = p.description, model = p.model, temperature = p.temperature,
       attributes = p.attributes, created_by = p.owner_id
  FROM personas p
 WHERE p.id = v.persona_id AND p.kind = 'studio' AND v.name IS NULL;
