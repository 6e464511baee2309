#!/usr/bin/env bash
# Build the Pub/Sub fake with Debian's Go toolchain in GOPATH mode (no module downloads).
#   tools/pubsub-fake/build.sh [OUTPUT]   (default: .harness/bin/pubsub-fake)
# Needs: apt-get install -y golang-go golang-google-cloud-dev  (`make pubsub-fake` does it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.harness/bin/pubsub-fake}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac  # we cd below
gopath="${PUBSUB_FAKE_GOPATH:-/usr/share/gocode}"

if ! command -v go >/dev/null 2>&1; then
  echo "pubsub-fake: 'go' not found; run 'make pubsub-fake' (installs golang-go)" >&2
  exit 2
fi
if [ ! -d "$gopath/src/cloud.google.com/go/pubsub/pstest" ]; then
  echo "pubsub-fake: $gopath/src/cloud.google.com/go/pubsub/pstest missing;" \
       "run 'make pubsub-fake' (installs golang-google-cloud-dev)" >&2
  exit 2
fi
mkdir -p "$(dirname "$out")"
cd "$here"
GO111MODULE=off GOPATH="$gopath" GOFLAGS= GOCACHE="${GOCACHE:-$root/.harness/go-cache}" \
  go build -o "$out.tmp" main.go
mv -f "$out.tmp" "$out"
echo "built $out"
