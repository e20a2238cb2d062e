"""Use cases shared by GraphQL and REST, and the per-request dataloaders."""
