-- The record-schema/v1 of the table the stored twins were built from (none for the demo set):
-- surveys read a profile column's question and values from it to answer from the records.
CREATE TABLE IF NOT EXISTS twin_record_schema (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    schema   JSONB NOT NULL
);
