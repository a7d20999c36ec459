# Entry points. `make run` and `make test` are the two commands the README leads with.

CARGO ?= cargo
PIPY_RELEASE := target/release/pipy

.PHONY: run build release test unit lint fmt bench clean-bench

## Build the release binary and run the gateway example on port 8000.
run: release
	@echo
	@echo "pipy is serving examples/gateway/main.js. Try, in another terminal:"
	@echo "  curl localhost:8000/hello       # routed to the backend on 8080"
	@echo "  curl localhost:8000/api/users   # round robin over 8080 and 8081"
	@echo "  curl localhost:8000/health      # answered by the gateway itself"
	@echo "  curl -i localhost:8000/nothing  # 404"
	@echo "Stop with Ctrl-C (in-flight requests are drained first)."
	@echo
	$(PIPY_RELEASE) examples/gateway/main.js

build:
	$(CARGO) build --workspace

release:
	$(CARGO) build --release -p pipy

## Every test: formatting, lints, unit tests and the integration suite.
test: lint
	$(CARGO) test --workspace

unit:
	$(CARGO) test --workspace --lib

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Load benchmark against nginx (needs nginx and wrk: bench/run.sh installs them).
bench: release
	bench/run.sh
