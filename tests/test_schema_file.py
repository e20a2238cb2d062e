"""schema.graphql, committed for clients and reviewers, is the schema the code serves."""

from pathlib import Path

from docgraph.ops.cli import main
from docgraph.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_schema_graphql_matches_the_code():
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql differs from the schema the code builds: run `make schema` "
        "(or `.venv/bin/docgraph schema > schema.graphql`) and commit the result")


def test_the_cli_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_sdl()


async def test_the_server_serves_that_schema(gql):
    data = await gql("{ __type(name: \"Document\") { fields { name } } }")
    served = {field["name"] for field in data["__type"]["fields"]}
    assert served == {
        "id", "name", "description", "mimeType", "sizeBytes", "storagePath", "folder", "tags",
        "type", "status", "userData", "verifiedAt", "rejectionReason", "createdBy", "createdAt",
        "updatedAt", "attachmentType", "sha256", "image", "download", "previewImage", "links"}
    assert "type Document {" in SCHEMA_FILE.read_text()
