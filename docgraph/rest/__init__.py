"""The REST compatibility shim for the documented /v1 paths."""
