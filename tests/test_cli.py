"""The docgraph command, run as a user runs it: a subprocess."""

import os
import subprocess
import sys
import uuid

import httpx
import pytest

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


def test_bad_input_gives_a_clear_error_and_status_2(cli_env):
    r = docgraph("key", "create", "--workspace", str(uuid.uuid4()), env=cli_env, check=False)
    assert r.returncode == 2 and "no workspace" in r.stderr
    ws = docgraph("workspace", "create", "Scopes", env=cli_env).stdout.strip()
    r = docgraph("key", "create", "--workspace", ws, "--scopes", "root", env=cli_env,
                 check=False)
    assert r.returncode == 2 and "unknown scope" in r.stderr
    r = docgraph("key", "revoke", str(uuid.uuid4()), env=cli_env, check=False)
    assert r.returncode == 2 and "no key" in r.stderr
    r = docgraph("key", "revoke", "not-a-uuid", env=cli_env, check=False)
    assert r.returncode == 2 and "not a UUID" in r.stderr


def test_a_malformed_setting_stops_the_command_naming_it(cli_env):
    r = docgraph("migrate", env={**cli_env, "DOCGRAPH_PORT": "http"}, check=False)
    assert r.returncode == 2
    assert "DOCGRAPH_PORT" in r.stderr and "expected an integer" in r.stderr


def test_serve_without_a_database_url_stops_naming_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DOCGRAPH_DATABASE_URL"}
    r = subprocess.run([sys.executable, "-m", "docgraph", "serve"], capture_output=True,
                       text=True, env=env, timeout=60, cwd=tmp_path)
    assert r.returncode == 2
    assert "DOCGRAPH_DATABASE_URL is not set" in r.stderr


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
    assert r.returncode == 2
    assert "DOCGRAPH_STORAGE_SIGNING_SECRET is not set" in r.stderr


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
