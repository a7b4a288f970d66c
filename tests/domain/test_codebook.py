"""A survey's codebook fills in what a drafted schema cannot guess from the cells: labels,
question wordings, answer orders and roles. The codebooks are written here in the shapes survey
data ships with."""

from __future__ import annotations

import json

import pytest

from domain.codebook import CodebookError, apply_codebook, codebook_entries
from domain.record_schema import RecordSchema
from domain.schema_draft import draft_schema
from tests.server.twin.test_twin_cli import personas_process
from tests.use_cases.twin.test_twin_record_tables import columns_of, survey_rows, write_table

CODEBOOK = {
    "_meta": {"rows": 120, "note": "metadata is not a column"},
    "columns": {
        "respondent": {"role": "demographic", "short_label": "Case ID", "answer_options": "respondent id"},
        "wt": {"role": "weight", "short_label": "Post-stratified weight"},
        "sex": {"role": "demographic", "short_label": "Respondent's gender", "answer_options": ["F", "M"]},
        "age_group": {"role": "demographic", "short_label": "Age group"},
        "party": {
            "role": "question",
            "short_label": "Party identification",
            "type": "ordinal",
            "answer_options": ["Democrat", "Independent", "Republican"],
        },
        "death_penalty": {
            "role": "question",
            "short_label": "Death penalty",
            "question_text": "Do you favor or oppose the death penalty for persons convicted of murder?",
            "answer_options": ["Favor", "Oppose", "Don't know"],
        },
        "owns_home": {"role": "admin", "short_label": "Home owner (interviewer's note)"},
        "not_in_the_table": {"role": "question", "short_label": "A question the file left out"},
    },
}


def drafted_with(codebook: object, rows: list[dict[str, str]] | None = None) -> tuple[dict, list[str]]:
    cells = columns_of(rows or survey_rows(60))
    draft, _ = draft_schema(cells)
    return apply_codebook(draft, codebook, cells)


def test_labels_questions_orders_and_roles_come_from_the_codebook():
    schema, notes = drafted_with(CODEBOOK)
    columns = schema["columns"]
    assert columns["sex"]["label"] == "Respondent's gender"
    assert columns["party"]["question"] == "Party identification"  # a question without wording: its label
    assert columns["party"] == {
        "type": "ordinal",
        "label": "Party identification",
        "question": "Party identification",
        "values": ["Democrat", "Independent", "Republican"],
    }
    wording = "Do you favor or oppose the death penalty for persons convicted of murder?"
    assert columns["death_penalty"]["question"] == wording
    # the survey's options in its order, including one nobody in the table gave
    assert columns["death_penalty"]["values"] == ["Favor", "Oppose", "Don't know"]
    assert columns["death_penalty"]["type"] == "category"
    assert columns["owns_home"]["use"] == "ignore"
    assert "question" not in columns["sex"]  # a demographic is a fact, not a question asked
    assert schema["weight"] == "wt" and "wt" not in columns
    assert any("not_in_the_table" in note for note in notes)
    RecordSchema.model_validate(schema)


def test_a_codebook_that_lists_fewer_options_than_the_table_uses_keeps_the_tables_values():
    codebook = {"party": {"label": "Party", "options": ["Democrat", "Republican"]}}
    schema, notes = drafted_with(codebook)
    assert set(schema["columns"]["party"]["values"]) == {"Democrat", "Independent", "Republican"}
    assert any("party" in note and "Independent" in note for note in notes)


def test_a_list_of_entries_and_options_as_objects_are_read():
    codebook = [
        {
            "name": "party",
            "description": "Party",
            "levels": [{"label": "Democrat"}, {"label": "Independent"}, {"label": "Republican"}],
            "ordered": True,
        },
        {"name": "respondent", "role": "id"},
    ]
    schema, _ = drafted_with(codebook)
    assert schema["columns"]["party"]["type"] == "ordinal"
    assert schema["columns"]["party"]["values"] == ["Democrat", "Independent", "Republican"]
    assert schema["id"] == "respondent"


def test_ignoring_the_gender_column_drops_the_gender_role():
    schema, notes = drafted_with({"sex": {"role": "ignore"}})
    assert "gender" not in schema and schema["columns"]["sex"]["use"] == "ignore"
    assert any(note.startswith("gender:") for note in notes)
    RecordSchema.model_validate(schema)


@pytest.mark.parametrize(
    ("codebook", "message"),
    [
        ("not a codebook", "JSON object of columns"),
        ([{"description": "no name"}], "names no column"),
        ({"party": "Party"}, "column 'party' must be an object"),
    ],
)
def test_a_codebook_that_is_not_one_is_refused_with_the_reason(codebook, message):
    with pytest.raises(CodebookError, match=message):
        codebook_entries(codebook)


def test_schema_command_reads_a_codebook(cli_env, tmp_path):
    table = write_table(tmp_path / "survey.csv", survey_rows(60))
    codebook = tmp_path / "codebook.json"
    codebook.write_text(json.dumps(CODEBOOK), encoding="utf-8")
    result = personas_process(cli_env, tmp_path, "twin", "schema", "--records", table, "--codebook", codebook)
    assert result.returncode == 0, result.stderr
    drafted = json.loads(result.stdout)
    assert drafted["columns"]["death_penalty"]["values"] == ["Favor", "Oppose", "Don't know"]
    assert "not_in_the_table" in result.stderr

    codebook.write_text("[1, 2", encoding="utf-8")
    broken = personas_process(cli_env, tmp_path, "twin", "schema", "--records", table, "--codebook", codebook)
    assert broken.returncode != 0 and "codebook" in broken.stderr.lower() and "Traceback" not in broken.stderr


@pytest.mark.parametrize(
    ("weight_name", "age_name"), [("finalwt", "agea"), ("WEIGHT1", "age_years"), ("wtssall", "AGE")]
)
def test_roles_are_found_under_the_names_surveys_give_them(weight_name, age_name):
    rows = [
        {"id": str(i), "body_weight_kg": str(60 + i), weight_name: f"{0.5 + i / 10:.2f}", age_name: str(20 + i)}
        for i in range(12)
    ]
    drafted, _ = draft_schema(columns_of(rows))
    assert drafted["weight"] == weight_name and drafted["age"] == age_name
    assert drafted["columns"]["body_weight_kg"]["type"] == "number"  # a person's weight is a fact, not a role


def test_a_coded_export_is_read_as_the_codebooks_answers(tmp_path):
    """Cells holding codes ("1", "2") with a codebook naming each code: the schema records the
    codes, the cells read as their answers, and a coded gender column becomes the gender."""
    from use_cases.twin.record_table import check_table, parse_schema

    rows = survey_rows(60)
    sexes, parties = {"F": "2", "M": "1"}, {"Democrat": "1", "Independent": "2", "Republican": "3"}
    coded = [{**r, "sex": sexes[r["sex"]], "party": parties[r["party"]]} for r in rows]
    codebook = {
        "sex": {"short_label": "Sex", "answer_options": {"1": "Male", "2": "Female"}},
        "party": {
            "role": "question",
            "short_label": "Party",
            "type": "ordinal",
            "answer_options": [
                {"code": 1, "label": "Democrat"},
                {"code": 2, "label": "Independent"},
                {"code": 3, "label": "Republican"},
            ],
        },
    }
    schema, notes = drafted_with(codebook, coded)
    assert schema["gender"] == "sex"
    assert schema["columns"]["sex"]["codes"] == {"1": "Male", "2": "Female"}
    assert schema["columns"]["party"]["type"] == "ordinal"
    assert schema["columns"]["party"]["values"] == ["Democrat", "Independent", "Republican"]
    assert any(n.startswith("party: the cells are codes, read as the codebook's answers (1 = Democrat") for n in notes)

    table = check_table(columns_of(coded), parse_schema(schema))
    for record, row in zip(table.records, rows, strict=True):
        assert record.values["party"] == row["party"]
        assert record.values["sex"] == {"F": "Female", "M": "Male"}[row["sex"]]

    # a code the codebook does not name is refused like any value outside the column's
    coded[4]["party"] = "9"
    with pytest.raises(Exception, match=r"column 'party', row 5 .*'9'"):
        check_table(columns_of(coded), parse_schema(schema))


def test_codes_must_name_listed_answers():
    spec = {"type": "category", "label": "Sex", "values": ["Female", "Male"], "codes": {"1": "Man"}}
    with pytest.raises(ValueError, match="codes name answers that values does not list: 'Man'"):
        RecordSchema.model_validate({"format": "record-schema/v1", "columns": {"sex": spec}})
