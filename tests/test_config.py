import re
from pathlib import Path

import pytest

from docgraph.config import VARIABLES, ConfigError, Settings, markdown_table
from docgraph.ops.cli import main, with_config_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.base_url == "http://127.0.0.1:8000"


def test_values_are_parsed():
    settings = Settings.from_env({
        "DOCGRAPH_DATABASE_URL": "postgresql://u:p@db:5432/docgraph",
        "DOCGRAPH_PORT": " 9000 ",
        "DOCGRAPH_ACCESS_LOG": "off",
        "DOCGRAPH_PUBLIC_URL": "https://docs.example.com/",
        "DOCGRAPH_DB_ACQUIRE_TIMEOUT": "0.5",
        "DOCGRAPH_CORS_ORIGINS": "https://app.example.com, http://localhost:5173/",
    })
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.database_url == "postgresql://u:p@db:5432/docgraph"
    assert settings.port == 9000
    assert settings.access_log is False
    assert settings.base_url == "https://docs.example.com"
    assert settings.db_acquire_timeout == 0.5


@pytest.mark.parametrize(("name", "value", "says"), [
    ("DOCGRAPH_PORT", "eighty", "expected an integer"),
    ("DOCGRAPH_PORT", "70000", "at most 65535"),
    ("DOCGRAPH_DATABASE_URL", "mysql://x", "postgresql://"),
    ("DOCGRAPH_ACCESS_LOG", "maybe", "true or false"),
    ("DOCGRAPH_LOG_LEVEL", "loud", "one of"),
    ("DOCGRAPH_PUBLIC_URL", "ftp://x", "http(s) URL"),
    ("DOCGRAPH_DB_ACQUIRE_TIMEOUT", "-1", "at least"),
    ("DOCGRAPH_CORS_ORIGINS", "app.example.com", "origins like"),
    ("DOCGRAPH_CORS_ORIGINS", "https://app.example.com/path", "origins like"),
    ("DOCGRAPH_GRAPHQL_MAX_DEPTH", "0", "at least 1"),
    ("DOCGRAPH_GRAPHQL_MAX_TOKENS", "many", "expected an integer"),
    ("DOCGRAPH_GRAPHQL_INTROSPECTION", "perhaps", "true or false"),
    ("DOCGRAPH_RATE_LIMIT_LEASE", "0", "at least 1"),
    ("DOCGRAPH_RATE_LIMIT_LEASE", "20.5", "expected an integer"),
])
def test_malformed_value_names_the_variable(name, value, says):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert name in str(info.value)
    assert says in str(info.value)


def test_graphql_protections_are_configurable():
    defaults = Settings.from_env({})
    assert (defaults.graphql_max_depth, defaults.graphql_max_aliases,
            defaults.graphql_max_tokens) == (10, 30, 5000)
    assert defaults.graphql_introspection and defaults.graphql_graphiql
    settings = Settings.from_env({
        "DOCGRAPH_GRAPHQL_MAX_DEPTH": "6",
        "DOCGRAPH_GRAPHQL_MAX_ALIASES": "3",
        "DOCGRAPH_GRAPHQL_MAX_TOKENS": "800",
        "DOCGRAPH_GRAPHQL_MAX_BODY_BYTES": "4096",
        "DOCGRAPH_GRAPHQL_INTROSPECTION": "false",
        "DOCGRAPH_GRAPHQL_GRAPHIQL": "off",
    })
    assert (settings.graphql_max_depth, settings.graphql_max_aliases,
            settings.graphql_max_tokens, settings.graphql_max_body_bytes) == (6, 3, 800, 4096)
    assert not settings.graphql_introspection
    assert not settings.graphql_graphiql


def test_serve_requires_a_database_url():
    with pytest.raises(ConfigError, match="DOCGRAPH_DATABASE_URL is not set"):
        Settings.from_env({}, require_database=True)


def test_inconsistent_pool_bounds_are_refused():
    with pytest.raises(ConfigError, match="DOCGRAPH_DB_POOL_MIN"):
        Settings.from_env({"DOCGRAPH_DB_POOL_MIN": "20", "DOCGRAPH_DB_POOL_MAX": "5"})


def test_readme_table_is_generated_from_the_declarations():
    text = README.read_text()
    assert with_config_table(text) == text, (
        "README.md's configuration table differs from docgraph/config.py: run "
        "`make readme-config` (or `.venv/bin/docgraph config --readme README.md`) and commit "
        "the result")


def test_the_table_has_a_row_per_variable_showing_its_default():
    rows = dict(re.findall(r"^\| `(DOCGRAPH_[A-Z0-9_]+)` \| ([^|]*) \|", markdown_table(),
                           flags=re.M))
    assert list(rows) == [v.env for v in VARIABLES]
    assert rows["DOCGRAPH_PORT"] == "`8000`"
    assert rows["DOCGRAPH_ACCESS_LOG"] == "`true`"
    assert rows["DOCGRAPH_DB_ACQUIRE_TIMEOUT"] == "`2.0`"
    assert rows["DOCGRAPH_DATA_DIR"] == "`.docgraph`"
    assert rows["DOCGRAPH_DATABASE_URL"] == "—"
    assert rows["DOCGRAPH_CORS_ORIGINS"] == "(none)"
    assert rows["DOCGRAPH_PUBLIC_URL"] == "http://HOST:PORT"


def test_docgraph_config_prints_the_settings_in_effect_with_secrets_masked(
        monkeypatch, capsys):
    for var in VARIABLES:
        monkeypatch.delenv(var.env, raising=False)
    monkeypatch.setenv("DOCGRAPH_PORT", "9000")
    monkeypatch.setenv("DOCGRAPH_CORS_ORIGINS", "https://a.example.com,https://b.example.com")
    monkeypatch.setenv("DOCGRAPH_STORAGE_SIGNING_SECRET", "s" * 40)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert [line.partition("=")[0] for line in lines] == [v.env for v in VARIABLES]
    assert "DOCGRAPH_PORT=9000" in lines
    assert "DOCGRAPH_CORS_ORIGINS=https://a.example.com,https://b.example.com" in lines
    assert "DOCGRAPH_STORAGE_SIGNING_SECRET=********" in lines
    assert "DOCGRAPH_S3_SECRET_KEY=" in lines  # unset: nothing to hide
    assert "s" * 40 not in out
    # What it prints reads back as the same settings.
    env = dict(line.split("=", 1) for line in lines)
    env["DOCGRAPH_STORAGE_SIGNING_SECRET"] = "s" * 40
    assert Settings.from_env(env) == Settings.from_env()


def test_docgraph_config_writes_the_readme_table(tmp_path, capsys):
    assert main(["config", "--markdown"]) == 0
    assert capsys.readouterr().out == markdown_table()
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- config:start -->\nstale\n<!-- config:end -->\n\nmore\n")
    assert main(["config", "--readme", str(readme)]) == 0
    assert readme.read_text() == (f"# x\n\n<!-- config:start -->\n\n{markdown_table()}\n"
                                  "<!-- config:end -->\n\nmore\n")
    readme.write_text("no markers\n")
    assert main(["config", "--readme", str(readme)]) == 1  # usage: not a file it can rewrite
    assert "config:start" in capsys.readouterr().err


def test_storage_defaults_to_the_local_backend_under_the_data_dir():
    settings = Settings.from_env({"DOCGRAPH_DATA_DIR": "/srv/docgraph"})
    assert settings.storage_backend == "local"
    assert settings.objects_dir == Path("/srv/docgraph/objects")
    root = Settings.from_env({"DOCGRAPH_STORAGE_ROOT": "/mnt/objects"})
    assert root.objects_dir == Path("/mnt/objects")


S3_ENV = {"DOCGRAPH_STORAGE_BACKEND": "s3", "DOCGRAPH_S3_ENDPOINT": "minio:9000",
          "DOCGRAPH_S3_ACCESS_KEY": "docgraph", "DOCGRAPH_S3_SECRET_KEY": "change-me-too"}


def test_s3_settings_are_parsed():
    settings = Settings.from_env({**S3_ENV, "DOCGRAPH_S3_SECURE": "false",
                                  "DOCGRAPH_S3_REGION": "eu-west-3"})
    assert settings.s3_endpoint == "minio:9000"
    assert settings.s3_region == "eu-west-3"
    assert settings.s3_base_url == "http://minio:9000"
    public = Settings.from_env({**S3_ENV, "DOCGRAPH_S3_PUBLIC_URL": "https://files.example.com/"})
    assert public.s3_base_url == "https://files.example.com"


@pytest.mark.parametrize("missing", ["DOCGRAPH_S3_ENDPOINT", "DOCGRAPH_S3_ACCESS_KEY",
                                     "DOCGRAPH_S3_SECRET_KEY"])
def test_the_s3_backend_names_a_missing_variable(missing):
    env = {k: v for k, v in S3_ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=f"{missing} is not set"):
        Settings.from_env(env)


def test_serve_with_the_local_backend_requires_a_signing_secret():
    env = {"DOCGRAPH_DATABASE_URL": "postgresql://u:p@db:5432/docgraph"}
    with pytest.raises(ConfigError, match="DOCGRAPH_STORAGE_SIGNING_SECRET is not set"):
        Settings.from_env(env, require_database=True)
    settings = Settings.from_env({**env, "DOCGRAPH_STORAGE_SIGNING_SECRET": "s" * 32},
                                 require_database=True)
    assert settings.storage_signing_secret == "s" * 32
    # The s3 backend signs with its S3 credentials instead.
    assert Settings.from_env({**env, **S3_ENV}, require_database=True).storage_backend == "s3"


@pytest.mark.parametrize(("env", "says"), [
    ({"DOCGRAPH_STORAGE_SIGNING_SECRET": "short"}, "at least 32 characters"),
    ({"DOCGRAPH_S3_ENDPOINT": "http://minio:9000"}, "without a scheme"),
    ({"DOCGRAPH_S3_BUCKET": "Not_A_Bucket"}, "not a valid bucket name"),
    ({"DOCGRAPH_MAX_OBJECT_BYTES": str(6 * 1024**3)}, "at most"),
    ({"DOCGRAPH_STORAGE_BACKEND": "gcs"}, "one of local, s3"),
])
def test_malformed_storage_values_name_the_variable(env, says):
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert next(iter(env)) in str(info.value)
    assert says in str(info.value)


def test_inconsistent_storage_lifetimes_are_refused():
    with pytest.raises(ConfigError, match="DOCGRAPH_DOWNLOAD_URL_SECONDS"):
        Settings.from_env({"DOCGRAPH_DOWNLOAD_URL_SECONDS": "7200",
                           "DOCGRAPH_DOWNLOAD_URL_MAX_SECONDS": "3600"})
    with pytest.raises(ConfigError, match="DOCGRAPH_ORPHAN_UPLOAD_SECONDS"):
        Settings.from_env({"DOCGRAPH_ORPHAN_UPLOAD_SECONDS": "600"})


def test_secrets_stay_out_of_the_settings_repr():
    settings = Settings.from_env({**S3_ENV, "DOCGRAPH_STORAGE_SIGNING_SECRET": "x" * 40})
    assert "change-me-too" not in repr(settings)
    assert "x" * 40 not in repr(settings)


def test_the_compose_file_configures_a_servable_s3_deployment():
    import yaml

    compose = yaml.safe_load((README.parent / "docker-compose.yml").read_text())
    for service in ("docgraph", "docgraph-2"):
        env = {k: str(v) for k, v in compose["services"][service]["environment"].items()}
        assert set(env) <= {v.env for v in VARIABLES}, "compose sets an unknown variable"
        settings = Settings.from_env(env, require_database=True)
        assert settings.storage_backend == "s3"
        assert settings.s3_base_url == "http://localhost:9000"
    minio = compose["services"]["minio"]["environment"]
    assert env["DOCGRAPH_S3_ACCESS_KEY"] == minio["MINIO_ROOT_USER"]
    assert env["DOCGRAPH_S3_SECRET_KEY"] == minio["MINIO_ROOT_PASSWORD"]


def test_the_compose_file_pulls_images_that_exist_and_cannot_move():
    import yaml

    compose = yaml.safe_load((README.parent / "docker-compose.yml").read_text())
    images = {name: service["image"] for name, service in compose["services"].items()
              if "image" in service}
    for name, image in images.items():
        reference = image.split("@")[0]
        assert ":" in reference.rsplit("/", 1)[-1], f"{name}: {image} has no tag"
        assert not reference.endswith(":latest"), f"{name}: {image} moves"
    # Docker Hub's minio/minio is gone; MinIO's last image, on Quay, by digest.
    store = images["minio"]
    assert store.startswith("quay.io/minio/minio:RELEASE.")
    assert re.fullmatch(r"[^@]+@sha256:[0-9a-f]{64}", store)
    assert store.split("@")[0] in README.read_text(), "the README names the image in use"
