# Aftercare. `make dev` runs the whole suite locally; `make test` runs every test.
# Both install what they need (a Python venv with the pinned emulator and template tools).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TWIN := target/debug/twin
PARAMS ?=
export SAM_CLI_TELEMETRY := 0

.PHONY: help setup build dev test fmt-check clippy template-check unit-and-e2e token seed sweep invoke bench load fuzz fuzz-api fuzz-parsers faults clean

help:
	@echo "make dev                     run the local twin: API on http://127.0.0.1:$${PORT:-3000}"
	@echo "make dev PARAMS=\"A=1 B=2\"    ... with template parameters overridden"
	@echo "make test                    formatting, clippy, template checks, unit and end-to-end tests"
	@echo "make token ROLE=customer SUB=c-1   a bearer token the twin accepts"
	@echo "make seed                    load the product catalogue and demo orders into the running twin"
	@echo "make sweep                   fire the SLA escalation schedule once, now"
	@echo "make invoke FUNCTION=IntakeFunction EVENT=events/intake-open-case.json"
	@echo "make bench                   cold start, binary and zip sizes, memory"
	@echo "make load                    Singles' Day surge: 5,000 order webhooks, 1,000 cases, 10% duplicates, sweeps running"
	@echo "make fuzz                    schemathesis with 500 examples per operation and role, then every cargo-fuzz target"
	@echo "make fuzz-parsers FUZZ_SECONDS=600   the cargo-fuzz targets only, each for FUZZ_SECONDS (default 60)"
	@echo "make faults                  20% of the functions' AWS calls failing: prints what was lost or doubled (nothing)"

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

# The surge, against the release binaries. LOAD_ORDERS, LOAD_CASES and LOAD_CONCURRENCY change
# its shape (defaults 5000, 1000, 32).
load: setup
	cargo build --release --workspace --bins
	TWIN_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo bench -p aftercare-e2e --bench load

# The fault-injection test alone, with its counts printed (`make test` runs it too).
faults: setup build
	TWIN_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo test -p aftercare-e2e --test faults -- --nocapture

# Hostile input, longer than `make test` runs it: the API from its OpenAPI document, then the
# parsers under libFuzzer. A crash leaves its input in fuzz/artifacts/<target>/ and fails the run;
# it becomes a regression test beside the code it broke.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := shopify_webhook woocommerce_webhook generic_webhook webhook_signature complaint_classifier photo_scrubber money_amount
CARGO_FUZZ := .local/tools/bin/cargo-fuzz

fuzz: fuzz-api fuzz-parsers

fuzz-api: setup build
	SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-500} TWIN_PYTHON=$(CURDIR)/$(VENV)/bin/python \
		cargo test -p aftercare-e2e --test contract -- generated_requests --nocapture

$(CARGO_FUZZ):
	cargo install --quiet --locked --root .local/tools cargo-fuzz

# cargo-fuzz passes nightly-only flags to rustc; RUSTC_BOOTSTRAP lets the one stable toolchain
# take them. The code is safe Rust, so the sanitizer adds nothing a panic would not show.
fuzz-parsers: $(CARGO_FUZZ)
	python3 fuzz/seed.py .local/fuzz/seeds
	for target in $(FUZZ_TARGETS); do \
		mkdir -p .local/fuzz/corpus/$$target .local/fuzz/seeds/$$target; \
		RUSTC_BOOTSTRAP=1 $(CARGO_FUZZ) run --sanitizer none --fuzz-dir fuzz $$target \
			.local/fuzz/corpus/$$target .local/fuzz/seeds/$$target $$(ls -d fuzz/seeds/$$target 2>/dev/null) \
			-- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

clean:
	cargo clean
	rm -rf $(VENV) .local
