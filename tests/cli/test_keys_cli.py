"""`employee-api keys` on a SQLite database, as an operator uses it.

(The same commands on PostgreSQL run in tests/distributed/test_security.py.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bootstrap
from settings import AuthSettings, Settings

SECRET = "c" * 40


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.delenv("AUTH_DISABLED", raising=False)
    assert bootstrap.main(["migrate"]) == 0
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = bootstrap.main(["keys", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_create_prints_the_token_alone_and_once(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "create", "--name", "billing", "--scopes", "read,write",
        "--quota", "employees=1000/minute", "--quota", "managers=50/30s",
    )  # fmt: skip
    assert code == 0
    token = out.strip()
    assert re.fullmatch(r"ema_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", token)
    assert out == token + "\n"
    assert "billing" in err and token.split("_")[1] in err and token not in err
    settings = Settings(database_url=database, auth=AuthSettings(secret_key=SECRET))
    storage = bootstrap.open_storage(settings)
    key = bootstrap.key_service(settings, storage).authenticate(token)
    storage.close()
    assert key is not None and key.quotas["managers"].window_seconds == 30


def test_list_shows_every_key_but_never_a_token(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token, _ = run(capsys, "create", "--name", "reader", "--scopes", "read")
    run(capsys, "create", "--name", "writer", "--scopes", "write")
    run(capsys, "revoke", "writer")
    code, out, _ = run(capsys, "list")
    assert code == 0
    header, reader, writer = out.splitlines()
    assert header.split()[:4] == ["NAME", "PREFIX", "SCOPES", "QUOTAS"]
    assert reader.split()[:4] == ["reader", token.split("_")[1], "read", "-"]
    assert reader.rstrip().endswith("-")  # not revoked
    assert writer.split()[2] == "write" and not writer.rstrip().endswith(" -")
    assert token.strip() not in out and token.split("_")[2].strip() not in out


def test_revoke_takes_a_name_or_a_prefix(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, token, _ = run(capsys, "create", "--name", "a", "--scopes", "read")
    code, _, err = run(capsys, "revoke", token.split("_")[1])
    assert code == 0 and "revoked API key 'a'" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["revoke", "nobody"], "No API key has the name or prefix 'nobody'"),
        (["create", "--name", "dup", "--scopes", "read"], "already has this name"),
        (["create", "--name", " ", "--scopes", "read"], "name: 1-100 characters"),
    ],
)
def test_refusals_are_one_line_and_a_non_zero_exit(
    database: str, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    run(capsys, "create", "--name", "dup", "--scopes", "read")
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    (line,) = err.splitlines()
    assert says in line


@pytest.mark.parametrize(
    "args",
    [
        ["create", "--name", "x", "--scopes", "admin"],
        ["create", "--name", "x", "--scopes", "read", "--quota", "teams=5/minute"],
        ["create", "--name", "x", "--scopes", "read", "--quota", "employees=lots"],
        ["create", "--scopes", "read"],
    ],
)
def test_bad_arguments_are_usage_errors(
    database: str, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bootstrap.main(["keys", *args])
    assert exited.value.code == 2


def test_without_a_secret_key_it_says_how_to_make_one(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY")
    code, out, err = run(capsys, "create", "--name", "x", "--scopes", "read")
    assert code == 2 and out == ""
    assert "SECRET_KEY is not set" in err and "secrets.token_urlsafe(32)" in err


def test_a_short_secret_key_is_refused_without_showing_it(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "tooshort-but-secret")
    code, _, err = run(capsys, "list")
    assert code == 2
    assert "SECRET_KEY=<hidden>: must be at least 32 characters" in err
    assert "tooshort-but-secret" not in err


def test_serving_with_auth_on_needs_a_secret_key(
    database: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SECRET_KEY")
    assert bootstrap.main(["serve"]) == 2
    assert "SECRET_KEY is not set" in capsys.readouterr().err


def test_keys_commands_and_keyed_serving_refuse_the_memory_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "memory://")
    monkeypatch.setenv("SECRET_KEY", SECRET)
    monkeypatch.delenv("AUTH_DISABLED", raising=False)
    code, out, err = run(capsys, "create", "--name", "x", "--scopes", "read")
    assert code == 2 and out == ""
    assert "keeps API keys inside one process" in err
    assert bootstrap.main(["serve"]) == 2
    assert "or set AUTH_DISABLED=1" in capsys.readouterr().err
