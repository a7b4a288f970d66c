"""Misconfiguration stops start-up with one clear sentence, not a traceback."""

import os
import subprocess
import sys


def _serve(tmp_path, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PORT": "0", **env}
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "serve"],
        env=full_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unreachable_database_url(tmp_path):
    result = _serve(
        tmp_path,
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
        CHAT_MODEL="openai:gpt-4.1",
        OPENAI_API_KEY="unused",
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error: Cannot connect to the database at 127.0.0.1:1/nothing" in result.stderr


def test_unknown_model_name(tmp_path):
    result = _serve(tmp_path, DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing", CHAT_MODEL="nope:model-x")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [errors[0]] and "Unknown model provider 'nope'" in errors[0]


def test_model_name_without_provider(tmp_path):
    result = _serve(tmp_path, CHAT_MODEL="gpt-4.1")
    assert result.returncode == 2
    assert "is not of the form provider:model" in result.stderr
    assert "Traceback" not in result.stderr


def test_colliding_rest_mounts(tmp_path):
    # The check runs before the database is reached (this URL would fail).
    result = _serve(
        tmp_path, STUDIO_PREFIX="", GHOSTWRITER_PREFIX="", DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing"
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(
        "error: The ghostwriter API and the studio API both claim POST /personas/{account_id}/chat"
    )
    assert "STUDIO_PREFIX or GHOSTWRITER_PREFIX" in errors[0]
    assert "Starting the database" not in result.stderr
