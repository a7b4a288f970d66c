-- A table without a gender (or an age) column still makes twins: their gender (or age band)
-- is 'Unknown', never a guess.
ALTER TABLE segment_personas DROP CONSTRAINT IF EXISTS segment_personas_gender_check;
ALTER TABLE segment_personas
    ADD CONSTRAINT segment_personas_gender_check CHECK (gender IN ('Female', 'Male', 'Unknown'));
