"""Strawberry types of the GraphQL schema; no I/O (that is resolvers/)."""
