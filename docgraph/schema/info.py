"""The ``info`` argument of this schema's resolvers: its context is a RequestContext."""

from typing import TypeAlias

import strawberry

from docgraph.resolvers.context import RequestContext

Info: TypeAlias = strawberry.Info[RequestContext, None]
