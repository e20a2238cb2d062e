"""schema.graphql, committed for clients and reviewers, is the schema the code serves."""

from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from docgraph.ops.cli import main
from docgraph.schema import build_schema, schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_schema_graphql_matches_the_code():
    assert SCHEMA_FILE.read_text() == schema_sdl(), (
        "schema.graphql differs from the schema the code builds: run `make schema` "
        "(or `.venv/bin/docgraph schema > schema.graphql`) and commit the result")


def undescribed() -> list[str]:
    """Every type, field and argument of the schema (introspection's aside) without a
    description, as ``Type``, ``Type.field`` and ``Type.field(argument)``."""
    missing = []
    for name, graphql_type in sorted(build_schema()._schema.type_map.items()):
        if name.startswith("__"):
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing.extend(f"{name}.{field_name}({arg_name})"
                               for arg_name, arg in field.args.items() if not arg.description)
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing.extend(f"{name}.{field_name}"
                           for field_name, field in graphql_type.fields.items()
                           if not field.description)
    return missing


def test_every_type_field_and_argument_has_a_description():
    missing = undescribed()
    assert not missing, ("These have no description; give them one in the schema (or in "
                         "their declaration):\n  " + "\n  ".join(missing))


def test_the_cli_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_sdl()


async def test_the_server_serves_that_schema(gql):
    data = await gql("{ __type(name: \"Document\") { fields { name } } }")
    served = {field["name"] for field in data["__type"]["fields"]}
    assert served == {
        "id", "name", "description", "mimeType", "sizeBytes", "storagePath", "folder", "tags",
        "type", "status", "userData", "verifiedAt", "rejectionReason", "createdBy", "createdAt",
        "updatedAt", "attachmentType", "sha256", "image", "download", "previewImage", "links",
        "detectedMimeType", "scanStatus", "scanSignature", "scannedAt", "pageCount",
        "textStatus", "textLength", "textStatusReason", "text"}
    assert "type Document {" in SCHEMA_FILE.read_text()
