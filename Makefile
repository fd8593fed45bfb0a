# Tessera — one entry point for everything. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)

UV := uv
UV_RUN := $(UV) run --frozen

# make run's platform (SQLite), for the targets that act on it (keys-*, admin, reset-mfa, auth-cli,
# mobile): its state and its gateway. TESSERA_DEV_VAR_DIR / TESSERA_DEV_PORT_BASE, which the
# launcher reads, name another copy. Those targets need only `uv`: `uv run` brings .venv up to
# date itself, and a command needs none of the bytecode `sync` compiles for the services.
DEV_VAR := $(or $(TESSERA_DEV_VAR_DIR),var)
DEV_GATEWAY := http://localhost:$(or $(TESSERA_DEV_PORT_BASE),8000)
AUTH_CLI := DATABASE_URL=sqlite+aiosqlite:///$(DEV_VAR)/auth.db KEY_ENCRYPTION_KEY_FILE=$(DEV_VAR)/auth-kek \
	ISSUER=$(DEV_GATEWAY) $(UV_RUN) python -m auth_service

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: uv
uv: ## Install uv from PyPI with pip when it is missing (uv's own installer is not reachable)
	@command -v $(UV) >/dev/null 2>&1 || { \
		python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages --user uv; \
		echo "uv is installed in $(HOME)/.local/bin: make finds it there, and the README's commands need" \
			"no uv (make targets, .venv/bin/...); to run uv yourself: export PATH=\"\$$HOME/.local/bin:\$$PATH\""; }

.PHONY: sync
sync: uv ## Create .venv with every workspace package and the dev tools (from uv.lock)
	@# Bytecode compiled up front: a service then starts in ~1.5 s, not ~4 s, even where
	@# PYTHONDONTWRITEBYTECODE keeps Python from caching it (restarts are measured: make soak).
	@# The first sync shows uv's progress (it may download every package); later ones are quiet.
	@$(if $(wildcard .venv),,echo "Creating .venv from uv.lock: the first time, uv downloads and installs every package")
	@$(UV) sync --frozen --compile-bytecode $(if $(wildcard .venv),--quiet)
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
keys-rotate: uv ## Rotate make run's signing key (compose: docker compose exec auth python -m auth_service keys rotate)
	@$(AUTH_CLI) keys rotate

.PHONY: keys-list
keys-list: uv ## List make run's signing keys: kid, state, when each may sign or leaves
	@$(AUTH_CLI) keys list

.PHONY: admin
admin: uv ## Make EMAIL an admin of make run's platform: promotes its account, or creates one (asks for a password)
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=you@example.org" >&2; exit 2; }
	@$(AUTH_CLI) users create-admin --email '$(EMAIL)'

.PHONY: reset-mfa
reset-mfa: uv ## Remove the second factor of EMAIL on make run's platform (lost device and codes; mails the owner)
	@test -n "$(EMAIL)" || { echo "usage: make reset-mfa EMAIL=ada@example.org" >&2; exit 2; }
	@$(AUTH_CLI) users reset-mfa --email '$(EMAIL)'

.PHONY: auth-cli
auth-cli: uv ## auth's operator commands on make run's database: make auth-cli ARGS='clients list'
	@$(AUTH_CLI) $(ARGS)

.PHONY: mobile
mobile: uv ## The mobile client against make run (token in var/): make mobile ARGS='login --email ada@example.com'
	@$(UV_RUN) tessera-mobile --base-url $(DEV_GATEWAY) --store $(DEV_VAR)/mobile-refresh-token $(ARGS)

.PHONY: test
test: sync ## Run every test: unit, integration, end-to-end (real processes, PostgreSQL and SQLite)
	@$(UV_RUN) python -m tessera_dev.services_check
	@$(UV_RUN) pytest -q --durations=30  # the slowest tests, to keep the run bounded

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

.PHONY: settings-docs
settings-docs: sync ## Regenerate docs/settings.md and services/*/.env.example from the Settings classes
	@$(UV_RUN) python -m tessera_dev.settings_reference

.PHONY: bench
bench: sync ## Benchmarks (ratios measured in one run)
	@$(UV_RUN) python -m bench

.PHONY: secrets
secrets: sync ## Fresh service-client secrets for docker compose in deploy/secrets/ (rerun to rotate)
	@$(UV_RUN) python -m tessera_dev.service_clients deploy/secrets

.PHONY: clean
clean: ## Remove local state (var/: SQLite files, dev keys)
	rm -rf var/
