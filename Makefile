# Tessera — one entry point for everything. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)

UV := uv
UV_RUN := $(UV) run --frozen

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: uv
uv: ## Install uv from PyPI with pip when it is missing (uv's own installer is not reachable)
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages --user uv

.PHONY: sync
sync: uv ## Create .venv with every workspace package and the dev tools (from uv.lock)
	@# Bytecode compiled up front: a service then starts in ~1.5 s, not ~4 s, even where
	@# PYTHONDONTWRITEBYTECODE keeps Python from caching it (restarts are measured: make soak).
	@$(UV) sync --frozen --quiet --compile-bytecode
	@$(UV_RUN) python -m compileall -q -j0 shared/src services/*/src dev/src clients/mobile/src >/dev/null

.PHONY: run
run: sync ## Start the whole platform (SQLite; DB=postgres: PostgreSQL + Redis of its own), local processes; Ctrl-C stops all
	@$(UV_RUN) python -m tessera_dev.launcher $(if $(DB),--db $(DB))

.PHONY: demo
demo: sync ## A narrated run of every flow (own platform; or set DEMO_BASE_URL to a running one)
	@$(UV_RUN) python -m tessera_dev.demo $(if $(DEMO_BASE_URL),--base-url $(DEMO_BASE_URL),--start)

.PHONY: migrate
migrate: sync ## Apply every service's Alembic migrations to its configured database
	@$(UV_RUN) python -m auth_service migrate
	@$(UV_RUN) python -m orders_service migrate
	@$(UV_RUN) python -m billing_service migrate

.PHONY: keys-rotate
keys-rotate: sync ## Rotate make run's signing key (compose: docker compose exec auth python -m auth_service keys rotate)
	@DATABASE_URL=sqlite+aiosqlite:///var/auth.db KEY_ENCRYPTION_KEY_FILE=var/auth-kek \
		$(UV_RUN) python -m auth_service keys rotate

.PHONY: test
test: sync ## Run every test: unit, integration, end-to-end (real processes, PostgreSQL and SQLite)
	@$(UV_RUN) python -m tessera_dev.services_check
	@$(UV_RUN) pytest -q

.PHONY: fuzz
fuzz: sync ## Schema-based fuzzing (Schemathesis) of every service's OpenAPI on a platform of its own
	@$(UV_RUN) python -m tessera_dev.fuzz $(if $(FUZZ_EXAMPLES),--examples $(FUZZ_EXAMPLES)) $(if $(FUZZ_SECONDS),--seconds $(FUZZ_SECONDS))

.PHONY: soak
soak: sync ## Chaos run on PostgreSQL + Redis of its own: load, restarts, then counts what was lost (SOAK_SECONDS, 180)
	@$(UV_RUN) python -m tessera_dev.soak $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS)) $(if $(SOAK_USERS),--users $(SOAK_USERS))

.PHONY: screenshots
screenshots: sync ## Refresh docs/screenshots/ from the browser tests (make test leaves them alone)
	@TESSERA_UPDATE_SCREENSHOTS=1 $(UV_RUN) pytest -q tests/browser

.PHONY: lint
lint: sync ## ruff, ruff format --check, mypy --strict
	@$(UV_RUN) ruff check .
	@$(UV_RUN) ruff format --check .
	@$(UV_RUN) mypy

.PHONY: fmt
fmt: sync ## Format and autofix
	@$(UV_RUN) ruff format .
	@$(UV_RUN) ruff check --fix .

.PHONY: protos
protos: sync ## Regenerate Python code and typed stubs from protos/ into the shared package
	@./scripts/gen_protos.sh

.PHONY: bench
bench: sync ## Benchmarks (ratios measured in one run)
	@$(UV_RUN) python -m bench

.PHONY: secrets
secrets: sync ## Fresh service-client secrets for docker compose in deploy/secrets/ (rerun to rotate)
	@$(UV_RUN) python -m tessera_dev.service_clients deploy/secrets

.PHONY: clean
clean: ## Remove local state (var/: SQLite files, dev keys)
	rm -rf var/
