"""FastAPI plumbing shared by every service: defaults, problem+json, auth dependencies."""
