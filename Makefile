# One entry point for everything. `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCAL_STAMP := $(VENV)/.installed-local
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled
# Let Python cache compiled modules: the test run's workers and the local stacks it starts import the same code.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install lint typecheck imports cfn-lint sam-validate checkov unit test demo run build build-check deploy clean bench chromium

# The local runtime needs only the [local] extra (what `make demo` / `make run` install, with progress);
# the tests add the dev tools on top.
$(LOCAL_STAMP): pyproject.toml requirements.lock
	@echo "Setting up $(VENV) for the local runtime (first run only; later runs skip this)..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on --upgrade pip
	$(BIN)/pip install --progress-bar on -c requirements.lock -e '.[local]'
	touch $@

$(STAMP): $(LOCAL_STAMP)
	@echo "Adding the test tools to $(VENV)..."
	$(BIN)/pip install --progress-bar on -c requirements.lock -e '.[dev]'
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy shared functions simulators local

imports: $(STAMP)
	$(BIN)/lint-imports

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint infra/template.yaml

# Four workers on two cores: a third of the suite's wall time is spent waiting (rate limits, batching windows,
# subprocesses), so two more workers fill it; six cost more CPU (each worker imports the stack) than they save.
unit: $(STAMP) chromium
	$(BIN)/pytest -q -p no:randomly -n 4 --dist loadfile --durations=15

# sam-validate and checkov use their own tool venvs (below): each pins libraries the project's .venv cannot share.
# The static checks run beside the tests (the tests wait on the emulator and the simulators often enough to leave
# CPU for them); each target's output is printed whole when it ends, and any failure fails `make test`.
CHECKS := lint typecheck imports cfn-lint sam-validate checkov
test:
	@$(MAKE) --no-print-directory -j 8 --output-sync=target $(CHECKS) unit

# The page's browser test (tests/page/test_browser.py) drives Debian's Chromium with Playwright (pinned in the
# [dev] extra; its own browser download is not used). Installed here when missing and we are root; otherwise the
# command is printed (and the test fails naming it).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; \
	else echo "The browser test needs Chromium at $(CHROMIUM): sudo apt-get install -y chromium"; fi

demo: $(LOCAL_STAMP)
	$(BIN)/dropship demo

run: $(LOCAL_STAMP)
	$(BIN)/dropship run

bench: $(STAMP)
	$(BIN)/python bench/sync_throughput.py

# ---------------------------------------------------------------- Lambda artifacts
# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR; each function gets shared/, its own folder and
# the runtime dependencies for python3.13/arm64 (pip --platform: no Docker, any local Python).
SAM_VENV := .venv-sam
SAM := SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam
LAMBDA_PIP := --platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all:

define lambda_artifact
	mkdir -p $(ARTIFACTS_DIR)/functions
	cp -R shared $(ARTIFACTS_DIR)/shared
	cp functions/__init__.py $(ARTIFACTS_DIR)/functions/
	cp -R functions/$(1) $(ARTIFACTS_DIR)/functions/$(1)
	$(PYTHON) -m pip install --quiet --no-compile $(LAMBDA_PIP) --target $(ARTIFACTS_DIR) -c requirements.lock \
	  "aws-lambda-powertools[tracer]" pydantic requests nh3
	find $(ARTIFACTS_DIR) -name __pycache__ -prune -exec rm -rf {} +
endef

build-WebhookOrderFunction:
	$(call lambda_artifact,webhook_order)

build-PushTrackingFunction:
	$(call lambda_artifact,push_tracking)

build-NotifyCustomerFunction:
	$(call lambda_artifact,notify_customer)

build-ConnectAliExpressFunction:
	$(call lambda_artifact,connect_aliexpress)

build-SellerApiFunction:
	$(call lambda_artifact,seller_api)

build-PlaceOrdersFunction:
	$(call lambda_artifact,place_orders)

build-SyncStatusFunction:
	$(call lambda_artifact,sync_status)

build-SyncWorkerFunction:
	$(call lambda_artifact,sync_worker)

build-MonitorProductsFunction:
	$(call lambda_artifact,monitor_products)

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

# The template as SAM reads it (transform + its bundled cfn-lint); no AWS account needed.
sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint --template-file infra/template.yaml --region us-east-1

# Security checks of the template; every suppression is in the template with its reason (Metadata: checkov).
# Under .venv-sam/ (ignored by git, removed by `make clean`); pinned by infra/checkov.lock.
CHECKOV_VENV := $(SAM_VENV)/checkov

$(CHECKOV_VENV)/.installed: infra/checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -c infra/checkov.lock checkov
	touch $@

checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file infra/template.yaml --framework cloudformation --compact --quiet \
	  --skip-download

build: $(SAM_VENV)/.installed
	$(SAM) build --template-file infra/template.yaml --build-dir .aws-sam/build \
	  --build-in-source --parallel

build-check: build $(STAMP)
	$(BIN)/python infra/check_artifacts.py .aws-sam/build

# ---------------------------------------------------------------- deploy (docs/deploy.md)
# make deploy STAGE=dev: check the stage's section of infra/samconfig.toml, build and check every artifact,
# then `sam deploy` with that section (boto3/AWS CLI default credentials and region).
STAGE ?=

deploy: $(STAMP) $(SAM_VENV)/.installed
	@test -n "$(STAGE)" || { echo "usage: make deploy STAGE=<stage>  (a section of infra/samconfig.toml: dev, prod)"; exit 2; }
	$(BIN)/python infra/deploy_config.py $(STAGE)
	$(MAKE) build-check
	$(SAM) deploy --config-file infra/samconfig.toml --config-env $(STAGE)

clean:
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
