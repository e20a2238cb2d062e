import re
from pathlib import Path

import pytest

from docgraph.config import VARIABLES, ConfigError, Settings

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
    })
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
    ("DOCGRAPH_GRAPHQL_MAX_DEPTH", "0", "at least 1"),
    ("DOCGRAPH_GRAPHQL_MAX_TOKENS", "many", "expected an integer"),
    ("DOCGRAPH_GRAPHQL_INTROSPECTION", "perhaps", "true or false"),
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


def test_readme_documents_every_variable():
    text = README.read_text()
    table_names = set(re.findall(r"^\| `(DOCGRAPH_[A-Z0-9_]+)`", text, flags=re.M))
    declared = {v.env for v in VARIABLES}
    assert declared - table_names == set(), "variables missing from the README table"
    assert table_names - declared == set(), "README documents variables that do not exist"
