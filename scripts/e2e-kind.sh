#!/usr/bin/env bash
# End-to-end on a throwaway kind cluster (`make e2e-kind`):
#   1. creates the kind cluster $CLUSTER (default pipy-e2e);
#   2. builds the pipy and pipy-operator images and loads them into it;
#   3. installs charts/pipy with those images;
#   4. applies examples/namespace.yaml, codebase.yaml and app.yaml;
#   5. curls the app through its injected sidecar (/ is proxied, /pipy answered by it);
#   6. changes the codebase and waits for the sidecar to serve the new version;
#   7. deletes the cluster (KEEP=1 keeps it for a look around).
# Needs kind, docker (with a running daemon), kubectl and helm; helm and kubectl can be
# installed with scripts/install-k8s-tools.sh (into .tools/bin, which is searched too).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/bin:$PATH"

CLUSTER="${CLUSTER:-pipy-e2e}"
TAG="${TAG:-e2e}"
RELEASE=pipy
NS=pipy-system
PIPY_IMAGE=ghcr.io/pipy-rs/pipy
OPERATOR_IMAGE=ghcr.io/pipy-rs/pipy-operator
LOCAL_PORT="${LOCAL_PORT:-18000}"

say() { printf '\n== %s\n' "$*"; }

missing=()
for tool in kind docker kubectl helm curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "e2e-kind: missing: ${missing[*]}" >&2
  for tool in "${missing[@]}"; do
    case "$tool" in
      helm|kubectl) echo "  $tool: scripts/install-k8s-tools.sh installs it into .tools/bin" >&2 ;;
      kind) echo "  kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation" >&2 ;;
      docker) echo "  docker: a Docker engine with a running daemon" >&2 ;;
      curl) echo "  curl: apt-get install curl" >&2 ;;
    esac
  done
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "e2e-kind: docker is installed but its daemon is not reachable (docker info fails)" >&2
  exit 1
fi

PF_PID=""
cleanup() {
  [ -n "$PF_PID" ] && kill "$PF_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then
    say "KEEP=1: cluster $CLUSTER kept (kind delete cluster --name $CLUSTER)"
  else
    say "deleting cluster $CLUSTER"
    kind delete cluster --name "$CLUSTER" || true
  fi
}

say "creating kind cluster $CLUSTER"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "e2e-kind: a kind cluster named $CLUSTER exists already; delete it or set CLUSTER=" >&2
  exit 1
fi
trap cleanup EXIT
kind create cluster --name "$CLUSTER" --wait 120s
kubectl config use-context "kind-$CLUSTER"

say "building and loading images ($TAG)"
DOCKER_BUILDKIT=1 docker build -f docker/pipy.Dockerfile -t "$PIPY_IMAGE:$TAG" .
DOCKER_BUILDKIT=1 docker build -f docker/operator.Dockerfile -t "$OPERATOR_IMAGE:$TAG" .
kind load docker-image --name "$CLUSTER" "$PIPY_IMAGE:$TAG" "$OPERATOR_IMAGE:$TAG"

say "installing the chart"
helm install "$RELEASE" charts/pipy --namespace "$NS" --create-namespace --wait --timeout 3m \
  --set operator.image.tag="$TAG" --set operator.image.pullPolicy=Never \
  --set sidecar.image.tag="$TAG" --set sidecar.image.pullPolicy=Never \
  --set webhook.failurePolicy=Fail
# failurePolicy=Fail: a pod created before the webhook answers would silently start
# without its sidecar; here that must be an error, not a flaky curl later.

say "applying the examples"
# The first apply may race the caBundle the operator writes into the validating webhook.
for i in 1 2 3 4 5 6; do
  kubectl apply -f examples/namespace.yaml -f examples/codebase.yaml && break
  [ "$i" = 6 ] && exit 1
  sleep 5
done
kubectl apply -f examples/app.yaml
kubectl -n demo rollout status deploy/hello --timeout=180s
containers="$(kubectl -n demo get pod -l app=hello -o jsonpath='{.items[0].spec.containers[*].name} {.items[0].spec.initContainers[*].name}')"
echo "containers: $containers"
case "$containers" in
  *pipy-sidecar*) ;;
  *) echo "e2e-kind: the hello pod has no pipy-sidecar container" >&2; exit 1 ;;
esac

say "curling through the sidecar"
kubectl -n demo port-forward svc/hello "$LOCAL_PORT:80" >/dev/null 2>&1 &
PF_PID=$!
expect() { # expect PATH TEXT [SECONDS]: poll until the body of PATH contains TEXT
  local deadline=$(( $(date +%s) + ${3:-60} )) body=""
  while [ "$(date +%s)" -lt "$deadline" ]; do
    body="$(curl -fsS --max-time 3 "http://127.0.0.1:$LOCAL_PORT$1" 2>/dev/null || true)"
    case "$body" in *"$2"*) echo "GET $1 -> $body"; return 0 ;; esac
    sleep 2
  done
  echo "e2e-kind: GET $1 never returned '$2' (last: '$body')" >&2
  return 1
}
expect / "hello from the app"
expect /pipy "hello from pipy"

say "changing the codebase: the sidecar reloads"
sed 's/hello from pipy/hello again from pipy/' examples/codebase.yaml | kubectl apply -f -
expect /pipy "hello again from pipy" 90
expect / "hello from the app"

say "deleting the examples and the release"
kubectl delete -f examples/app.yaml -f examples/codebase.yaml -f examples/namespace.yaml --wait=true
helm uninstall "$RELEASE" --namespace "$NS" --wait
say "e2e-kind: passed"
