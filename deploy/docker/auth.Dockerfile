# syntax=docker/dockerfile:1
# Tessera auth service. Build from the workspace root (compose does):
#   docker build -f deploy/docker/auth.Dockerfile -t tessera/auth .
# Stage 1 resolves the service's dependencies from uv.lock with uv (installed from PyPI);
# stage 2 is the runtime: the virtualenv plus the sources it points at, run as a non-root user.

FROM python:3.11-slim AS build
RUN pip install --no-cache-dir "uv>=0.5,<1"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PYTHON=python3.11
WORKDIR /app
# The whole workspace (see .dockerignore); only this service's locked dependencies are installed.
COPY . .
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --package tessera-auth
# The workspace sources too (the venv's packages are compiled by UV_COMPILE_BYTECODE): the
# non-root runtime user cannot write __pycache__, and a restart should not recompile.
RUN .venv/bin/python -m compileall -q shared/src services/auth/src

FROM python:3.11-slim AS runtime
RUN useradd --system --uid 10001 --no-create-home --home-dir /app tessera
WORKDIR /app
# Workspace packages are installed editable: the venv points at these source trees (and the
# service finds its Alembic migrations beside its package).
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/shared /app/shared
COPY --from=build /app/services/auth /app/services/auth
RUN mkdir -p /app/var && chown tessera /app/var
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 HTTP_HOST=0.0.0.0
USER tessera
EXPOSE 8001
# Same commands as the local launcher (tessera_dev.platform): migrate, then serve.
CMD ["python", "-m", "auth_service", "serve"]
