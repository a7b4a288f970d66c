"""Twins from any table of people: a `record-schema/v1` (declared or drafted), the build on a
survey-like table that is not the demo's, every twin traced to its record, and clear errors
that leave the stored twins alone. The tables are made here, not taken from real data."""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import pytest

from domain.record_schema import RecordSchema, age_in_years, gender_of
from domain.schema_draft import draft_schema
from runtime.errors import ConfigError
from tests.server.twin.test_twin_cli import error_lines, personas, personas_process, twin_tables
from use_cases.twin.record_table import check_table, parse_schema
from use_cases.twin.segments.table_build import build_table_segments

AGE_GROUPS = ["18-29", "30-44", "45-64", "65 or older"]
PARTIES = ["Democrat", "Independent", "Republican"]


def survey_rows(n: int = 120, seed: int = 3) -> list[dict[str, str]]:
    """A small panel survey: opinions follow party, as in real ones, so clusters have a shape."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        party = rng.choice(PARTIES)
        right = PARTIES.index(party) / 2
        rows.append(
            {
                "respondent": f"R{1000 + i}",
                "wt": f"{rng.uniform(0.4, 2.2):.3f}",
                "sex": rng.choice(["M", "F"]),
                "age_group": rng.choice(AGE_GROUPS),
                "party": party,
                "death_penalty": "Favor" if rng.random() < 0.25 + 0.5 * right else "Oppose",
                "owns_home": rng.choice(["yes", "no"]),
                "income": str(rng.randint(15, 200) * 1000),
                # surveys skip questions: an empty cell is unknown
                "gun_owner": "" if rng.random() < 0.2 else ("yes" if rng.random() < 0.2 + 0.5 * right else "no"),
            }
        )
    return rows


def write_table(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


SCHEMA = {
    "format": "record-schema/v1",
    "id": "respondent",
    "weight": "wt",
    "gender": "sex",
    "age": "age_group",
    "columns": {
        "sex": {"type": "category", "label": "Sex", "values": ["F", "M"]},
        "age_group": {"type": "ordinal", "label": "Age group", "values": AGE_GROUPS},
        "party": {
            "type": "ordinal",
            "label": "Party",
            "question": "Which party do you feel closest to?",
            "values": PARTIES,
        },
        "death_penalty": {
            "type": "category",
            "label": "Death penalty",
            "question": "Do you favor or oppose the death penalty for murder?",
            "values": ["Favor", "Oppose"],
        },
        "owns_home": {"type": "boolean", "label": "Owns their home", "question": "Do you own your home?"},
        "income": {"type": "number", "label": "Household income in dollars"},
        "gun_owner": {"type": "boolean", "label": "Gun owner", "question": "Do you own a gun?"},
    },
}


def table_and_schema(folder: Path, rows: list[dict[str, str]]) -> tuple[Path, Path]:
    """The survey table as CSV and its schema as JSON, as a user hands them to the CLI."""
    schema = folder / "schema.json"
    schema.write_text(json.dumps(SCHEMA), encoding="utf-8")
    return write_table(folder / "survey.csv", rows), schema


def columns_of(rows: list[dict[str, str]]) -> dict[str, list[str | None]]:
    return {name: [row[name] or None for row in rows] for name in rows[0]}


def test_the_schema_checks_itself_and_names_what_is_wrong():
    RecordSchema.model_validate(SCHEMA)
    broken = json.loads(json.dumps(SCHEMA))
    del broken["columns"]["party"]["values"]
    with pytest.raises(ConfigError, match=r"columns\.party.*ordinal column lists its values"):
        parse_schema(broken)
    unknown_role = {**SCHEMA, "gender": "gender_column"}
    with pytest.raises(ConfigError, match="gender names 'gender_column'"):
        parse_schema(unknown_role)
    with pytest.raises(ConfigError, match=r"columns\.party\.type"):
        parse_schema({**SCHEMA, "columns": {**SCHEMA["columns"], "party": {"type": "likert", "label": "Party"}}})


def test_cells_are_parsed_by_type_and_an_empty_cell_is_unknown():
    rows = survey_rows(30)
    table = check_table(columns_of(rows), parse_schema(SCHEMA))
    first, by_id = table.records[0], {r.record_id: r for r in table.records}
    assert first.record_id == "R1000" and first.weight == float(rows[0]["wt"])
    assert first.values["income"] == float(rows[0]["income"])
    assert first.values["owns_home"] is (rows[0]["owns_home"] == "yes")
    skipped = [row["respondent"] for row in rows if not row["gun_owner"]]
    assert skipped and all(by_id[rid].values["gun_owner"] is None for rid in skipped)
    assert (age_in_years("65 or older"), age_in_years("30-44"), age_in_years(37.0)) == (65.0, 37.0, 37.0)
    assert (gender_of("F"), gender_of("male"), gender_of("Other")) == ("Female", "Male", None)


def test_spreadsheet_exports_read_as_the_plain_csv_does(tmp_path):
    """A byte-order mark, semicolons (a comma-decimal locale's export), tabs: the same records."""
    from use_cases.twin.record_table import read_csv_text, read_record_table

    rows = survey_rows(40)
    rows[3]["party"] = "Independent; leans left, sometimes"  # a cell holding both delimiters
    plain = write_table(tmp_path / "plain.csv", rows)
    schema = json.loads(json.dumps(SCHEMA))
    schema["columns"]["party"]["values"].append("Independent; leans left, sometimes")
    schema["columns"]["party"]["type"] = "category"
    (tmp_path / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    expected = read_record_table(plain, tmp_path / "schema.json").records
    assert expected[3].values["party"] == "Independent; leans left, sometimes"
    for name, delimiter in (("semicolons.csv", ";"), ("tabs.tsv", "\t")):
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=delimiter)
            writer.writeheader()
            writer.writerows(rows)
        assert read_record_table(path, tmp_path / "schema.json").records == expected, name
        text = path.read_text(encoding="utf-8")  # the BOM stays in the text, as a request carries it
        assert text.startswith("\ufeff")
        assert read_csv_text(text, "records_csv") == columns_of(rows), name


def test_a_bad_cell_is_named_by_column_row_and_value():
    rows = survey_rows(30)
    rows[6]["owns_home"] = "maybe"
    rows[9]["party"] = "Green"
    rows[11]["respondent"] = rows[2]["respondent"]
    rows[14]["wt"] = ""
    with pytest.raises(ConfigError) as caught:
        check_table(columns_of(rows), parse_schema(SCHEMA))
    message = str(caught.value)
    assert "column 'owns_home', row 7 (line 8): 'maybe': expected a yes/no value" in message
    assert (
        "column 'party', row 10 (line 11): 'Green': expected one of 'Democrat', 'Independent', 'Republican'" in message
    )
    assert "column 'respondent' (the id), row 12 (line 13): 'R1002' repeats row 3" in message
    assert "column 'wt' (the weight), row 15 (line 16): an empty cell: expected a number >= 0 (write 0" in message
    without_income = {name: cells for name, cells in columns_of(survey_rows(30)).items() if name != "income"}
    with pytest.raises(ConfigError, match="lacks the schema's column"):
        check_table(without_income, parse_schema(SCHEMA))


def test_a_drafted_schema_guesses_roles_types_and_orders_and_says_so():
    rows = survey_rows(120)
    rows[0]["comment"] = "free text"
    for i, row in enumerate(rows):
        row["comment"] = f"note number {i} about the interview"
    drafted, notes = draft_schema(columns_of(rows))
    schema = RecordSchema.model_validate(drafted)
    assert (schema.id, schema.weight, schema.gender, schema.age) == ("respondent", "wt", "sex", "age_group")
    assert schema.columns["age_group"].type == "ordinal" and schema.columns["age_group"].values == AGE_GROUPS
    assert schema.columns["owns_home"].type == "boolean" and schema.columns["income"].type == "number"
    assert schema.columns["party"].type == "category" and set(schema.columns["party"].values or []) == set(PARTIES)
    assert schema.columns["comment"].use == "ignore"
    assert "id: guessed 'respondent' from its name and values" in notes
    assert any(note.startswith("comment: 120 distinct values: free text, ignored") for note in notes)


async def test_build_a_survey_table_into_twins_that_trace_to_their_records(
    cli_env, services, client, script, tmp_path, capsys
):
    rows = survey_rows(120)
    table, schema = table_and_schema(tmp_path, rows)
    built = tmp_path / "set.json"
    capsys.readouterr()
    code = await personas(
        services, "twin", "build", "--records", table, "--schema", schema, "--clusters", 2, "--out", built
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "  120 records, 7 profile columns" in out and "Done: 2 clusters and 30 personas" in out
    segment_set = json.loads(built.read_text(encoding="utf-8"))
    assert segment_set["schema"]["id"] == "respondent"
    members = {c["key"]: c["attributes"]["record_ids"] for c in segment_set["clusters"]}
    for cluster in segment_set["clusters"]:  # what a survey weighs each twin's (gender, age band) cell by
        assert set(cluster["attributes"]["gender_shares"]) == {"Female", "Male"}
        assert abs(sum(cluster["attributes"]["age_band_shares"].values()) - 1.0) < 1e-4
    assert sorted(rid for ids in members.values() for rid in ids) == sorted(r["respondent"] for r in rows)
    by_id = {r["respondent"]: r for r in rows}
    for persona in segment_set["personas"]:
        record = by_id[persona["attributes"]["record_id"]]
        assert persona["attributes"]["record_id"] in members[persona["cluster_key"]]
        assert persona["gender"] == {"F": "Female", "M": "Male"}[record["sex"]]
        assert persona["attributes"]["party"] == record["party"]
        assert f"Party: {record['party']}" not in persona["summary"]  # answers are facts, not the intro
        assert "Age group: " in persona["summary"]
    assert (await twin_tables(services))[1] == 30

    listed = (await client.get("/twin/cluster/0/personas")).json()
    assert len(listed) == 15
    twin = segment_set["personas"][0]
    record = by_id[twin["attributes"]["record_id"]]
    script.responder = lambda messages: "I answer from my own record."
    r = await client.post(f"/twin/persona/{listed[0]['persona_id']}/chat", json={"message": "Death penalty?"})
    assert r.status_code == 200, r.text
    system = str(script.calls[-1][0].content)
    assert (
        f'Asked "Do you favor or oppose the death penalty for murder?", you answer: {record["death_penalty"]}.'
        in system
    )
    assert f'Asked "Which party do you feel closest to?", you answer: {record["party"]}.' in system


async def test_bad_input_is_one_error_line_and_leaves_the_twins_intact(cli_env, services, tmp_path, capsys):
    rows = survey_rows(120)
    good, schema = table_and_schema(tmp_path, rows)
    assert await personas(services, "twin", "build", "--records", good, "--schema", schema, "--clusters", 2) == 0
    before = await twin_tables(services)

    rows[40]["wt"] = "heavy"
    bad = write_table(tmp_path / "bad.csv", rows)
    result = personas_process(cli_env, tmp_path, "twin", "build", "--records", bad, "--schema", schema, "--clusters", 2)
    assert result.returncode != 0
    [line] = error_lines(result.stderr)
    assert "column 'wt' (the weight), row 41 (line 42): 'heavy': expected a number >= 0" in line

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**SCHEMA, "format": "record-schema/v9"}), encoding="utf-8")
    result = personas_process(
        cli_env, tmp_path, "twin", "build", "--records", good, "--schema", broken, "--clusters", 2
    )
    [line] = error_lines(result.stderr)
    assert line.startswith("error: broken.json: format:")
    result = personas_process(
        cli_env, tmp_path, "twin", "build", "--records", good, "--schema", schema, "--clusters", 9
    )
    [line] = error_lines(result.stderr)
    assert "120 records are too few for 9 clusters" in line
    assert await twin_tables(services) == before


def test_schema_command_prints_a_draft_and_its_guesses(cli_env, tmp_path):
    table = write_table(tmp_path / "survey.csv", survey_rows(60))
    result = personas_process(cli_env, tmp_path, "twin", "schema", "--records", table)
    assert result.returncode == 0, result.stderr
    drafted = json.loads(result.stdout)
    assert drafted["format"] == "record-schema/v1" and drafted["gender"] == "sex"
    assert "Check these guesses" in result.stderr and "weight: guessed 'wt'" in result.stderr


async def test_a_survey_question_on_a_profile_column_is_answered_from_each_record(
    cli_env, services, client, script, tmp_path
):
    rows = survey_rows(120)
    table, schema = table_and_schema(tmp_path, rows)
    built = tmp_path / "set.json"
    args = ("twin", "build", "--records", table, "--schema", schema, "--clusters", 2, "--out", built)
    assert await personas(services, *args) == 0
    twins = json.loads(built.read_text(encoding="utf-8"))["personas"]
    by_id = {r["respondent"]: r for r in rows}

    def record_of(persona_id: int) -> dict[str, str]:  # imported in set order, ids from 1
        return by_id[twins[persona_id - 1]["attributes"]["record_id"]]

    script.responder = lambda messages: "A"
    question = "do you favor or oppose the death penalty for murder"  # case and punctuation aside
    r = await client.post("/twin/survey", json={"question": question, "options": ["Oppose", "Favor"]})
    assert r.status_code == 200, r.text
    answers = [a for cluster in r.json()["clusters"] for a in cluster["answers"]]
    assert len(answers) == 30 and script.calls == []  # the model was not asked
    for answer in answers:
        assert answer["record_id"] == twins[answer["persona_id"] - 1]["attributes"]["record_id"]
        assert answer["answer"] == record_of(answer["persona_id"])["death_penalty"]
        assert answer["probabilities"][answer["answer"]] == 1.0

    r = await client.post("/twin/survey", json={"question": "Do you own your home?", "options": ["Yes", "No"]})
    for answer in (a for cluster in r.json()["clusters"] for a in cluster["answers"]):
        assert answer["answer"] == {"yes": "Yes", "no": "No"}[record_of(answer["persona_id"])["owns_home"]]

    # a question no column holds (or options the column does not have) goes to the model
    r = await client.post(
        "/twin/survey",
        json={
            "question": "Do you favor or oppose the death penalty for murder?",
            "options": ["Favor", "Oppose", "Unsure"],
        },
    )
    assert r.status_code == 200 and len(script.calls) == 30
    # asked with the survey prompt: the group's text first (shared by its twins, so the model
    # server reads it once a cluster), then the twin with the answers of its own record
    built_set = json.loads(built.read_text(encoding="utf-8"))
    cluster_names = {c["key"]: c["name"] for c in built_set["clusters"]}
    twin_of = {(cluster_names[p["cluster_key"]], p["name"]): p for p in twins}
    assert len(twin_of) == len(twins)
    for messages in script.calls:
        system = str(messages[0].content)
        group, twin = system.split("\nYou are ", 1)
        name = twin.split(",", 1)[0]
        cluster_name = group.split('"')[3]
        record = by_id[twin_of[(cluster_name, name)]["attributes"]["record_id"]]
        assert "The group:" in group and name not in group
        assert f'Asked "Which party do you feel closest to?", you answer: {record["party"]}.' in twin
        penalty = record["death_penalty"]  # the column is in the record, though not these options
        assert f'Asked "Do you favor or oppose the death penalty for murder?", you answer: {penalty}.' in twin


async def test_a_tables_survey_is_raked_to_its_clusters_column_splits(cli_env, services, client, tmp_path):
    """By default the twins' weights are raked to every column split their cluster stores: the
    weighted twins' own answers split closer to their cluster's people than the cells' weights."""
    rows = survey_rows(120)
    table, schema = table_and_schema(tmp_path, rows)
    built = tmp_path / "set.json"
    args = ("twin", "build", "--records", table, "--schema", schema, "--clusters", 2, "--out", built)
    assert await personas(services, *args) == 0
    stored = {c["name"]: c["attributes"]["value_shares"] for c in json.loads(built.read_text("utf-8"))["clusters"]}

    async def misfits(weighting: str) -> list[float]:
        """Per cluster and column, how far the weighted twins' own answers split from the cluster's."""
        out = []
        for column, question, options in (
            ("party", "Which party do you feel closest to?", PARTIES),
            ("death_penalty", "Do you favor or oppose the death penalty for murder?", ["Favor", "Oppose"]),
        ):
            body = {"question": question, "options": options, "weighting": weighting}
            r = await client.post("/twin/survey", json=body)
            assert r.status_code == 200, r.text
            for cluster in r.json()["clusters"]:
                split = {o: sum(a["weight"] for a in cluster["answers"] if a["answer"] == o) for o in options}
                truth = stored[cluster["cluster_name"]][column]
                out.append(0.5 * sum(abs(split[o] - truth.get(o, 0.0)) for o in options))
        return out

    cells, raked = await misfits("age_gender"), await misfits("raked")
    assert sum(raked) < 0.5 * sum(cells), (raked, cells)
    assert all(r <= c + 1e-3 for r, c in zip(raked, cells, strict=True)), (raked, cells)


async def test_validate_reports_twins_against_their_records_and_the_baselines(
    cli_env, services, script, tmp_path, monkeypatch, capsys
):
    from use_cases.twin.fidelity import tvd

    rows = survey_rows(150)
    table, schema = table_and_schema(tmp_path, rows)
    before = await twin_tables(services)
    monkeypatch.setenv("CHAT_MODEL", "fake:scripted")
    seen: list[str] = []

    shown_first: list[str] = []

    def favor(messages):
        seen.append(str(messages[0].content))
        lines = re.findall(r"^([A-J])\. (.+)$", str(messages[-1].content), re.M)
        shown_first.append(lines[0][1])
        return next(letter for letter, option in lines if option == "Favor")

    script.responder = favor
    args = ("twin", "validate", "--records", table, "--schema", schema, "--clusters", 2)
    code = await personas(services, *args, "--hold-out", "death_penalty", "--report", tmp_path / "report", "--quiet")
    assert code == 0, capsys.readouterr()
    report = json.loads((tmp_path / "report" / "fidelity.json").read_text(encoding="utf-8"))
    assert "<svg" in (tmp_path / "report" / "fidelity.html").read_text(encoding="utf-8")
    [question] = report["questions"]
    assert question["column"] == "death_penalty" and question["options"] == ["Favor", "Oppose"]
    # the twins never saw the held-out answer; 30 twins were asked, and the model without a
    # record once in each order of the two options
    assert len(seen) == 32 and not any("death penalty" in prompt.lower() for prompt in seen[2:])
    assert shown_first[:2] == ["Favor", "Oppose"]
    assert {"Favor", "Oppose"} <= set(shown_first[2:])  # each twin sees the options in its own order
    for cluster in question["clusters"]:
        assert cluster["twins"] == {"Favor": 1.0, "Oppose": 0.0}
        assert cluster["tvd"]["twins"] == tvd(cluster["twins"], cluster["truth"])
        assert cluster["tvd"]["uniform"] == tvd({"Favor": 0.5, "Oppose": 0.5}, cluster["truth"])
    # every answer of the people counts, weighted: the clusters' truths average to the table's
    weights = [float(r["wt"]) for r in rows]
    favor = sum(w for r, w in zip(rows, weights, strict=True) if r["death_penalty"] == "Favor") / sum(weights)
    clusters = question["clusters"]
    mixed = sum(c["truth"]["Favor"] * c["weight"] for c in clusters) / sum(c["weight"] for c in clusters)
    assert abs(mixed - favor) < 1e-3 and 0.0 < favor < 1.0
    out = capsys.readouterr().out
    assert "death_penalty: Do you favor or oppose the death penalty for murder?" in out and "mean TVD" in out
    assert await twin_tables(services) == before  # validation stores nothing

    # the answer method is the survey's: with ssr the twins answer in their own words, and the
    # report says which method read them
    script.responder = lambda messages: "Favor."
    ssr_report = tmp_path / "ssr"
    code = await personas(services, *args, "--hold-out", "death_penalty", "--method", "ssr", "--report", ssr_report)
    assert code == 0, capsys.readouterr()
    ssr = json.loads((ssr_report / "fidelity.json").read_text(encoding="utf-8"))
    assert ssr["method"] == "ssr" and report["method"] == "auto"
    for cluster in ssr["questions"][0]["clusters"]:
        assert 0.5 < cluster["twins"]["Favor"] < 1.0  # a similarity's softmax, not one written letter

    code = await personas(services, *args, "--hold-out", "sex", "--quiet")
    assert code == 2 and "the gender and age columns make the twins" in capsys.readouterr().err
    code = await personas(services, *args, "--hold-out", "income", "--quiet")
    assert code == 2 and "only a category, ordinal or boolean column" in capsys.readouterr().err


async def test_validate_asks_a_column_without_a_question_by_its_label_and_refuses_early(
    cli_env, services, script, tmp_path, monkeypatch, capsys
):
    """A drafted schema has labels but no questions: a held-out column is asked by its label.
    What cannot run is refused before the model starts."""
    monkeypatch.setenv("CHAT_MODEL", "fake:scripted")
    unasked = json.loads(json.dumps(SCHEMA))
    del unasked["columns"]["death_penalty"]["question"]
    (tmp_path / "schema.json").write_text(json.dumps(unasked), encoding="utf-8")
    table = write_table(tmp_path / "survey.csv", survey_rows(120))
    asked: list[str] = []

    def oppose(messages):
        asked.append(str(messages[-1].content))
        return next(m[0] for m in re.findall(r"^([A-J])\. (.+)$", str(messages[-1].content), re.M) if m[1] == "Oppose")

    script.responder = oppose
    args = ("twin", "validate", "--records", table, "--schema", tmp_path / "schema.json", "--quiet")
    code = await personas(services, *args, "--clusters", 2, "--hold-out", "death_penalty")
    assert code == 0, capsys.readouterr()
    assert asked and all(text.startswith("Survey question: Death penalty\n") for text in asked), asked[0]

    asked.clear()
    capsys.readouterr()
    assert await personas(services, *args, "--clusters", 9, "--hold-out", "death_penalty") == 2
    assert error_lines(capsys.readouterr().err) == [
        "error: 120 records are too few for 9 clusters (need at least 135)."
    ]
    assert await personas(services, *args, "--clusters", 2, "--hold-out", "income") == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("error: --hold-out income: only a category, ordinal or boolean column")
    assert asked == []


async def test_a_model_server_that_dies_mid_validation_is_one_error_line(
    cli_env, services, tmp_path, monkeypatch, capsys
):
    """A peer that hangs up (as a crashed model server does) ends the command with one line
    naming the failure, not a traceback."""
    from tests.support.stub_server import LoopbackServer, StubHandler

    class HangUp(StubHandler):
        def do_POST(self) -> None:
            self.close_connection = True  # no response at all

    peer = LoopbackServer(HangUp)
    try:
        monkeypatch.setenv("CHAT_MODEL", "openai:gpt-4.1-mini")
        monkeypatch.setenv("OPENAI_BASE_URL", f"{peer.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        table, schema = table_and_schema(tmp_path, survey_rows(120))
        args = ("twin", "validate", "--records", table, "--schema", schema, "--clusters", 2)
        code = await personas(services, *args, "--hold-out", "death_penalty", "--quiet")
    finally:
        peer.close()
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert (
        line
        == "error: the chat model or another upstream service failed to answer (OpenAIConnectionError: Connection error)."
    ), err


def test_the_demo_consumer_table_is_described_by_its_shipped_schema(tmp_path):
    from importlib import resources

    from use_cases.twin.record_table import load_schema, read_columns
    from use_cases.twin.segments.records import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, generate_records

    schema_file = resources.files("use_cases.twin.segments") / "consumer_schema.json"
    schema = load_schema(Path(str(schema_file)))
    records = generate_records(200, seed=11)
    columns = [c for c in (*OPTIONAL_COLUMNS, *REQUIRED_COLUMNS)]
    with (tmp_path / "demo.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(records)
    table = check_table(read_columns(tmp_path / "demo.csv"), schema)
    assert len(table.records) == 200 and table.notes == []
    assert set(schema.columns) == set(columns) - {"record_id"}


def test_cluster_names_say_what_a_scale_answer_is_about():
    table = check_table(columns_of(survey_rows(120)), parse_schema(SCHEMA))
    names = [cluster.name for cluster in build_table_segments(table, 2).clusters]
    parts = [part for name in names for part in name.split(" · ")]
    assert parts and len(set(names)) == len(names)
    for part in parts:  # a party names itself; "Favor" or "yes" alone would not say what about
        assert part in PARTIES or part.split(": ")[0] in ("Death penalty", "Owns their home", "Gun owner"), names


async def test_a_table_without_gender_or_age_makes_twins_that_stand_for_parts_of_their_cluster(
    cli_env, services, client, script, tmp_path, capsys
):
    rows = [{k: v for k, v in row.items() if k not in ("sex", "age_group")} for row in survey_rows(120)]
    schema = {k: v for k, v in SCHEMA.items() if k not in ("gender", "age")}
    schema["columns"] = {k: v for k, v in SCHEMA["columns"].items() if k not in ("sex", "age_group")}
    (tmp_path / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    table, built = write_table(tmp_path / "survey.csv", rows), tmp_path / "set.json"
    args = ("twin", "build", "--records", table, "--schema", tmp_path / "schema.json", "--clusters", 2)
    code = await personas(services, *args, "--out", built)
    assert code == 0, capsys.readouterr()
    segment_set = json.loads(built.read_text(encoding="utf-8"))
    by_id = {r["respondent"]: r for r in rows}
    for cluster in segment_set["clusters"]:
        twins = [p for p in segment_set["personas"] if p["cluster_key"] == cluster["key"]]
        assert len(twins) == 15 and len({p["name"] for p in twins}) == 15
        assert {(p["gender"], p["age_band"]) for p in twins} == {("Unknown", "Unknown")}
        # each stands for its part of the cluster: the parts add up to the whole
        assert abs(sum(p["attributes"]["stands_for"] for p in twins) - 1.0) < 1e-4
        assert all(p["attributes"]["record_id"] in cluster["attributes"]["record_ids"] for p in twins)
        assert all("gender" not in p["attributes"]["facts"] for p in twins)

    listed = (await client.get("/twin/cluster/0/personas")).json()
    assert len(listed) == 15 and {(p["gender"], p["age"]) for p in listed} == {("Unknown", "Unknown")}
    greeting = (await client.get(f"/twin/persona/{listed[0]['persona_id']}/start_chat")).json()["greeting"]
    assert "cluster — a person who behaves like this:" in greeting
    script.responder = lambda messages: "I answer from my own record."
    r = await client.post(f"/twin/persona/{listed[0]['persona_id']}/chat", json={"message": "Who are you?"})
    assert r.status_code == 200, r.text
    system = str(script.calls[-1][0].content)
    assert f"You are {listed[0]['persona_name']}, a person: a synthetic" in system and "USA" not in system

    # a query naming a gender keeps twins whose gender nobody recorded
    r = await client.post("/twin/cluster/0/refine_personas", json={"query": "women who own a gun", "top_k": 5})
    assert r.status_code == 200 and len(r.json()) == 5

    script.calls.clear()
    r = await client.post(
        "/twin/survey", json={"question": "Do you own your home?", "options": ["Yes", "No"], "weighting": "age_gender"}
    )
    assert r.status_code == 200, r.text
    assert script.calls == []  # answered from each record
    stands_for = {p["attributes"]["record_id"]: p["attributes"]["stands_for"] for p in segment_set["personas"]}
    for cluster in r.json()["clusters"]:
        total = sum(stands_for[a["record_id"]] for a in cluster["answers"])
        for answer in cluster["answers"]:
            assert answer["answer"] == {"yes": "Yes", "no": "No"}[by_id[answer["record_id"]]["owns_home"]]
            assert abs(answer["weight"] - stands_for[answer["record_id"]] / total) < 1e-3


async def test_a_tables_twins_answer_by_their_letters_on_the_local_model(cli_env, services, local_llm, tmp_path):
    """`auto` means letter probabilities for a table's twins on every provider (measured on the
    development survey); the demo's twins keep option likelihood on the local model."""
    from graphs.segment_survey.context import SurveyContext
    from graphs.segment_survey.graph import graph as segment_survey
    from runtime.services import set_current_services

    table, schema = table_and_schema(tmp_path, survey_rows(120))
    assert await personas(services, "twin", "build", "--records", table, "--schema", schema, "--clusters", 2) == 0
    set_current_services(services)
    question = {"question": "Do you own a car?", "options": ["Yes", "No"], "cluster_ids": [0], "seed": 3}

    async def methods_of(context: SurveyContext) -> list[str]:  # each answer's method, as the graph read it
        found = []
        async for update in segment_survey.astream(question, context=context, stream_mode="updates"):
            found += [answer["method"].split("+")[0] for answer in (update.get("ask") or {}).get("answers") or []]
        return found

    assert await methods_of(SurveyContext(model="local:smollm2")) == ["label_logprobs"] * 15
    chosen = await methods_of(SurveyContext(model="local:smollm2", method="option_likelihood"))
    assert chosen == ["option_likelihood"] * 15
