"""Everything that speaks SQL: the pool, migrations, the embedded cluster, queries."""

from docgraph.db.database import Database, statement_counter

__all__ = ["Database", "statement_counter"]
