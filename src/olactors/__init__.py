"""olactors: an integration daemon built as an actor system on trio."""

from .logs import hide_url_queries

# Whatever logs a host process keeps, httpx's lines never carry a URL's query
# (where providers take tokens and client secrets).
hide_url_queries()
