"""docgraph: documents and the graph that ties them to the things they belong to."""

__version__ = "0.1.0"
