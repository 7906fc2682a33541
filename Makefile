# One entry point for everything. `make test` and `make demo` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AWS_ACCOUNT_ID_ENDPOINT_MODE := disabled

.PHONY: install lint typecheck imports cfn-lint unit test demo run build build-check clean bench

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy shared functions simulators local

imports: $(STAMP)
	$(BIN)/lint-imports

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint infra/template.yaml

unit: $(STAMP)
	$(BIN)/pytest -q -p no:randomly -n 2 --dist loadfile --durations=15

test: lint typecheck imports cfn-lint unit

demo: $(STAMP)
	$(BIN)/dropship demo

run: $(STAMP)
	$(BIN)/dropship run

bench: $(STAMP)
	$(BIN)/python bench/sync_throughput.py

# ---------------------------------------------------------------- Lambda artifacts
# `sam build` calls build-<LogicalId> with ARTIFACTS_DIR; each function gets shared/, its own folder and
# the runtime dependencies for python3.13/arm64 (pip --platform: no Docker, any local Python).
SAM_VENV := .venv-sam
LAMBDA_PIP := --platform manylinux2014_aarch64 --implementation cp --python-version 3.13 --only-binary=:all:

define lambda_artifact
	mkdir -p $(ARTIFACTS_DIR)/functions
	cp -R shared $(ARTIFACTS_DIR)/shared
	cp functions/__init__.py $(ARTIFACTS_DIR)/functions/
	cp -R functions/$(1) $(ARTIFACTS_DIR)/functions/$(1)
	$(PYTHON) -m pip install --quiet --no-compile $(LAMBDA_PIP) --target $(ARTIFACTS_DIR) -c requirements.lock \
	  "aws-lambda-powertools[tracer]" pydantic pydantic-settings requests
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

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==1.170.0
	touch $@

build: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam build --template-file infra/template.yaml --build-dir .aws-sam/build \
	  --build-in-source --parallel

build-check: build $(STAMP)
	$(BIN)/python infra/check_artifacts.py .aws-sam/build

clean:
	rm -rf .aws-sam $(VENV) $(SAM_VENV)
