"""Running docgraph: the command line, the worker supervisor, the embedded PostgreSQL."""
