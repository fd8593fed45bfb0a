"""HTTP API: routers and their dependencies."""
