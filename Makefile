# Aftercare. `make dev` runs the whole suite locally; `make test` runs every test.
# Both install what they need (a Python venv with the pinned emulator and template tools).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TWIN := target/debug/twin
PARAMS ?=
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup build dev test fmt-check clippy template-check unit-and-e2e token seed sweep invoke bench clean

help:
	@echo "make dev                     run the local twin: API on http://127.0.0.1:$${PORT:-3000}"
	@echo "make dev PARAMS=\"A=1 B=2\"    ... with template parameters overridden"
	@echo "make test                    formatting, clippy, template checks, unit and end-to-end tests"
	@echo "make token ROLE=customer SUB=c-1   a bearer token the twin accepts"
	@echo "make seed                    load the product catalogue and demo orders into the running twin"
	@echo "make sweep                   fire the SLA escalation schedule once, now"
	@echo "make invoke FUNCTION=IntakeFunction EVENT=events/intake-open-case.json"
	@echo "make bench                   cold start, binary and zip sizes, memory"

$(STAMP): infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	touch $(STAMP)

setup: $(STAMP)

build:
	cargo build --workspace --bins

dev: setup build
	$(TWIN) up --params "$(PARAMS)"

test: setup fmt-check clippy template-check unit-and-e2e

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

template-check: setup
	$(VENV)/bin/cfn-lint infra/template.yaml
	$(VENV)/bin/sam validate --lint --region us-east-1 --template-file infra/template.yaml

# The end-to-end tests run the compiled function binaries, so build them first.
unit-and-e2e: setup build
	TWIN_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo test --workspace --no-fail-fast

token:
	@test -n "$(ROLE)" -a -n "$(SUB)" || { echo "usage: make token ROLE=<customer|agent|expert|supervisor|finance|payment_integration> SUB=<id>"; exit 2; }
	@cargo build --quiet -p aftercare-twin
	@$(TWIN) token --role "$(ROLE)" --sub "$(SUB)" --params "$(PARAMS)"

seed:
	@cargo build --quiet -p aftercare-twin
	@$(TWIN) seed

sweep:
	@cargo build --quiet -p aftercare-twin
	@$(TWIN) sweep

invoke:
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=IntakeFunction EVENT=events/intake-open-case.json"; exit 2; }
	@cargo build --quiet -p aftercare-twin
	@$(TWIN) invoke "$(FUNCTION)" "$(EVENT)"

# Release builds for Lambda (arm64, as deployed, and x86_64), the host build the cold-start
# figures run, then the benchmark itself.
bench: setup
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cargo lambda build --release --arm64 --lambda-dir target/lambda/arm64
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cargo lambda build --release --arm64 --output-format zip --lambda-dir target/lambda/arm64-zip
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cargo lambda build --release --x86-64 --lambda-dir target/lambda/x86_64
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cargo lambda build --release --x86-64 --output-format zip --lambda-dir target/lambda/x86_64-zip
	cargo build --release --workspace --bins
	TWIN_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo bench -p aftercare-e2e --bench functions

clean:
	cargo clean
	rm -rf $(VENV) .local
