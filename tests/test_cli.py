"""The docgraph command, run as a user runs it: a subprocess."""

import json
import os
import subprocess
import sys
import uuid
from importlib import metadata

import httpx
import pytest

from docgraph import __version__ as docgraph_version
from docgraph.db.migrate import load_migrations
from docgraph.ops.embedded import free_port
from docgraph.resolvers import auth


def docgraph(*args, env=None, check=True):
    result = subprocess.run([sys.executable, "-m", "docgraph", *args], capture_output=True,
                            text=True, env={**os.environ, **(env or {})}, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"docgraph {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture
def cli_env(database_url):
    return {"DOCGRAPH_DATABASE_URL": database_url}


def test_workspace_and_key_lifecycle(cli_env, server):
    ws = docgraph("workspace", "create", "Acme Legal", env=cli_env).stdout.strip()
    workspace_id = uuid.UUID(ws)
    assert "Acme Legal" in docgraph("workspace", "list", env=cli_env).stdout

    created = docgraph("key", "create", "--workspace", ws, "--scopes", "read:documents",
                       "--name", "reporting", env=cli_env)
    key = created.stdout.strip()
    assert key.startswith("wbk_") and len(key) == 47
    assert "shown once" in created.stderr
    key_id = created.stderr.split("key id: ")[1].split()[0]

    listing = docgraph("key", "list", "--workspace", ws, env=cli_env).stdout
    assert key_id in listing and "reporting" in listing and "read:documents" in listing
    assert key not in listing and key[12:] not in listing

    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.get(f"{server.url}/v1/workspace", headers=headers)
    assert r.status_code == 200 and r.json()["data"]["id"] == str(workspace_id)

    assert "revoked" in docgraph("key", "revoke", key_id, env=cli_env).stdout
    assert httpx.get(f"{server.url}/v1/workspace", headers=headers).status_code == 401
    listing = docgraph("key", "list", "--workspace", ws, env=cli_env).stdout
    assert listing.splitlines()[1].split()[-1] != "-"  # revoked_at is filled in


def one_line_error(r):
    """The command's stderr is one line, ``docgraph...: error: ...``."""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and ": error: " in lines[0], r.stderr
    return lines[0]


def test_what_the_database_refuses_exits_2(cli_env):
    r = docgraph("key", "create", "--workspace", str(uuid.uuid4()), env=cli_env, check=False)
    assert r.returncode == 2 and "no workspace" in one_line_error(r)
    ws = docgraph("workspace", "create", "Scopes", env=cli_env).stdout.strip()
    r = docgraph("key", "create", "--workspace", ws, "--scopes", "root", env=cli_env,
                 check=False)
    assert r.returncode == 2 and "unknown scope" in one_line_error(r)
    r = docgraph("key", "revoke", str(uuid.uuid4()), env=cli_env, check=False)
    assert r.returncode == 2 and "no key" in one_line_error(r)
    assert r.stdout == ""


def test_bad_arguments_exit_1_in_one_line(cli_env):
    r = docgraph("key", "revoke", "not-a-uuid", env=cli_env, check=False)
    assert r.returncode == 1 and "not a UUID" in one_line_error(r)
    r = docgraph("workspace", env=cli_env, check=False)
    assert r.returncode == 1 and one_line_error(r).startswith("docgraph workspace: error:")
    r = docgraph("no-such-command", env=cli_env, check=False)
    assert r.returncode == 1 and "invalid choice" in one_line_error(r)
    r = docgraph("workspace", "list", "--jsn", env=cli_env, check=False)
    assert r.returncode == 1 and "--jsn" in one_line_error(r)
    assert r.stdout == ""


def test_version():
    r = docgraph("--version")
    assert r.stdout.strip() == f"docgraph {docgraph_version}"
    assert docgraph_version == metadata.version("docgraph")


def test_an_unreachable_database_exits_3_in_one_line(cli_env):
    url = f"postgresql://docgraph@127.0.0.1:{free_port()}/nothing"
    for command in (["workspace", "list"], ["migrate"], ["migrate", "--status"]):
        r = docgraph(*command, env={"DOCGRAPH_DATABASE_URL": url}, check=False)
        assert r.returncode == 3, (command, r.stderr)
        assert "database" in one_line_error(r) and "Traceback" not in r.stderr


def test_a_malformed_setting_stops_the_command_naming_it(cli_env):
    r = docgraph("migrate", env={**cli_env, "DOCGRAPH_PORT": "http"}, check=False)
    assert r.returncode == 1
    assert "DOCGRAPH_PORT" in r.stderr and "expected an integer" in one_line_error(r)


def test_serve_without_a_database_url_stops_naming_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DOCGRAPH_DATABASE_URL"}
    r = subprocess.run([sys.executable, "-m", "docgraph", "serve"], capture_output=True,
                       text=True, env=env, timeout=60, cwd=tmp_path)
    assert r.returncode == 1
    assert "DOCGRAPH_DATABASE_URL is not set" in one_line_error(r)


def test_migrate_reports_an_up_to_date_database(cli_env):
    assert "up to date" in docgraph("migrate", env=cli_env).stdout


async def test_key_hash_matches_what_the_cli_printed(cli_env, db):
    ws = docgraph("workspace", "create", "Hash check", env=cli_env).stdout.strip()
    key = docgraph("key", "create", "--workspace", ws, env=cli_env).stdout.strip()
    stored = await db.fetchval("select key_hash from api_keys where workspace_id = $1",
                               uuid.UUID(ws))
    assert stored == auth.hash_key(key)


def test_serve_with_local_storage_and_no_signing_secret_stops_naming_it(cli_env, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCGRAPH_")}
    r = subprocess.run([sys.executable, "-m", "docgraph", "serve"], capture_output=True,
                       text=True, env={**env, **cli_env}, timeout=60, cwd=tmp_path)
    assert r.returncode == 1
    assert "DOCGRAPH_STORAGE_SIGNING_SECRET is not set" in r.stderr


def parsed(r):
    """``--json`` output: one JSON document on stdout, nothing else there."""
    return json.loads(r.stdout)


def test_json_output_of_listing_and_creating_commands(cli_env):
    ws = parsed(docgraph("workspace", "create", "JSON Ltd", "--json", env=cli_env))
    assert ws["name"] == "JSON Ltd" and uuid.UUID(ws["id"]) and ws["created_at"].endswith("Z")
    listed = parsed(docgraph("workspace", "list", "--json", env=cli_env))
    assert ws in listed

    created = docgraph("key", "create", "--workspace", ws["id"], "--name", "ci", "--json",
                       env=cli_env)
    assert created.stderr == ""  # the "shown once" note is for people
    key = parsed(created)
    assert key["key"].startswith("wbk_") and key["workspace_id"] == ws["id"]
    assert key["scopes"] == ["read:documents", "write:documents"] and key["revoked_at"] is None
    keys = parsed(docgraph("key", "list", "--workspace", ws["id"], "--json", env=cli_env))
    assert [k["id"] for k in keys] == [key["id"]] and "key" not in keys[0]
    revoked = parsed(docgraph("key", "revoke", key["id"], "--json", env=cli_env))
    assert revoked["id"] == key["id"] and revoked["revoked_at"]

    assert parsed(docgraph("migrate", "--json", env=cli_env)) == []
    settings = parsed(docgraph("config", "--json", env=cli_env))
    assert settings["DOCGRAPH_DATABASE_URL"] == cli_env["DOCGRAPH_DATABASE_URL"]


async def test_migrate_status_lists_applied_and_pending_and_changes_nothing(
        empty_database_url, db):
    import asyncpg

    env = {"DOCGRAPH_DATABASE_URL": empty_database_url}
    migrations = load_migrations()
    pending = parsed(docgraph("migrate", "--status", "--json", env=env))
    assert [(m["version"], m["name"], m["state"], m["applied_at"]) for m in pending] == [
        (m.version, m.name, "pending", None) for m in migrations]
    conn = await asyncpg.connect(empty_database_url)
    try:
        # --status changed nothing: not even the table of applied migrations exists.
        assert await conn.fetchval("select to_regclass('schema_migrations')") is None

        text = docgraph("migrate", "--status", env=env)
        first = text.stdout.splitlines()[1].split()
        assert first[:3] == [f"{migrations[0].version:04d}", migrations[0].name, "pending"]
        assert f"{len(migrations)} pending" in text.stderr

        applied = parsed(docgraph("migrate", "--json", env=env))
        assert [m["version"] for m in applied] == [m.version for m in migrations]
        status = parsed(docgraph("migrate", "--status", "--json", env=env))
        assert {m["state"] for m in status} == {"applied"}
        assert all(m["applied_at"].endswith("Z") for m in status)
        assert "up to date" in docgraph("migrate", "--status", env=env).stderr

        # One applied by a newer version of docgraph, one edited after it was applied.
        await conn.execute("insert into schema_migrations (version, name, checksum) "
                           "values (9999, 'from_the_future', 'x')")
        await conn.execute("update schema_migrations set checksum = 'edited' "
                           "where version = $1", migrations[0].version)
        status = parsed(docgraph("migrate", "--status", "--json", env=env))
        states = {m["version"]: m["state"] for m in status}
        assert states[9999] == "unknown" and states[migrations[0].version] == "changed"
        assert status[-1]["name"] == "from_the_future"
        r = docgraph("migrate", env=env, check=False)
        assert r.returncode == 2 and "was changed after it was applied" in one_line_error(r)
    finally:
        await conn.close()
def test_a_workspace_chooses_its_search_language(cli_env, server):
    ws = docgraph("workspace", "create", "Kanzlei", "--search-language", "german",
                  env=cli_env).stdout.strip()
    assert "german" in docgraph("workspace", "list", env=cli_env).stdout
    changed = docgraph("workspace", "search-language", ws, "simple", env=cli_env).stdout
    assert "searches in simple" in changed
    r = docgraph("workspace", "search-language", ws, "klingon", env=cli_env, check=False)
    assert r.returncode == 2 and "klingon" in r.stderr and "english" in r.stderr
    r = docgraph("workspace", "search-language", str(uuid.uuid4()), "simple", env=cli_env,
                 check=False)
    assert r.returncode == 2 and "not found" in r.stderr.lower()


def test_webhook_lifecycle(cli_env, server):
    """Register, list, rotate and delete a workspace's webhook endpoint; secrets are
    printed once, and an address the server would refuse is refused here too."""
    ws = docgraph("workspace", "create", "Hooks", env=cli_env).stdout.strip()
    # The default key scopes stay the document ones; manage:webhooks is asked for.
    created = docgraph("key", "create", "--workspace", ws, env=cli_env)
    assert "scopes: read:documents write:documents" in created.stderr
    key = docgraph("key", "create", "--workspace", ws, "--scopes", "manage:webhooks",
                   env=cli_env).stdout.strip()

    refused = docgraph("webhook", "create", "--workspace", ws, "--url",
                       "http://127.0.0.1:9/hooks", env=cli_env, check=False)
    assert refused.returncode == 2
    assert "validation_error" in refused.stderr and "loopback" in refused.stderr
    refused = docgraph("webhook", "create", "--workspace", ws, "--url",
                       "https://93.184.215.14/", "--types", "document.exploded",
                       env=cli_env, check=False)
    assert refused.returncode == 2 and "event_types" in refused.stderr
    refused = docgraph("webhook", "create", "--workspace", str(uuid.uuid4()), "--url",
                       "https://93.184.215.14/", env=cli_env, check=False)
    assert refused.returncode == 2 and "no workspace" in refused.stderr

    made = docgraph("webhook", "create", "--workspace", ws, "--url",
                    "https://93.184.215.14/hooks", "--types", "document.created",
                    "entity.created", "--description", "CRM", env=cli_env)
    secret = made.stdout.strip()
    assert secret.startswith("whsec_") and "shown once" in made.stderr
    endpoint_id = made.stderr.split("endpoint id: ")[1].split()[0]

    listing = docgraph("webhook", "list", "--workspace", ws, env=cli_env).stdout
    assert endpoint_id in listing and "document.created,entity.created" in listing
    assert secret not in listing
    [listed] = json.loads(docgraph("webhook", "list", "--workspace", ws, "--json",
                                   env=cli_env).stdout)
    assert listed["id"] == endpoint_id and listed["description"] == "CRM"
    assert listed["event_types"] == ["document.created", "entity.created"]
    assert "secret" not in listed
    # The API sees the same endpoint.
    r = httpx.get(f"{server.url}/v1/webhooks", headers={"Authorization": f"Bearer {key}"})
    assert [e["id"] for e in r.json()["data"]["webhooks"]] == [endpoint_id]

    rotated = docgraph("webhook", "rotate", "--workspace", ws, endpoint_id, env=cli_env)
    assert rotated.stdout.strip().startswith("whsec_")
    assert rotated.stdout.strip() != secret
    assert "previous secret signs too until" in rotated.stderr

    other = docgraph("workspace", "create", "Not theirs", env=cli_env).stdout.strip()
    r = docgraph("webhook", "delete", "--workspace", other, endpoint_id, env=cli_env,
                 check=False)
    assert r.returncode == 2 and "not_found" in r.stderr
    assert "deleted" in docgraph("webhook", "delete", "--workspace", ws, endpoint_id,
                                 env=cli_env).stdout
    assert endpoint_id not in docgraph("webhook", "list", "--workspace", ws,
                                       env=cli_env).stdout
