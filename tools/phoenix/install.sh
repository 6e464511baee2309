#!/usr/bin/env bash
# Installs Arize Phoenix (an OpenTelemetry/OpenInference trace viewer with an OTLP
# receiver) and its Python client into their own virtualenv (default .harness/phoenix/ in
# the repository; HARNESS_PHOENIX_DIR overrides), idempotently. Its own venv because
# Phoenix pins many packages that need not agree with the project's.
#
# Afterwards:
#   DIR/bin/phoenix    `phoenix serve` with telemetry and external resources off; the
#                      caller sets PHOENIX_WORKING_DIR, PHOENIX_HOST, PHOENIX_PORT and
#                      PHOENIX_GRPC_PORT
#   DIR/bin/python     the venv's Python (with `phoenix.client`)
# Prints DIR on stdout as its last line. Needs python3 (>= 3.10) with venv, and PyPI.
set -euo pipefail

PHOENIX_VERSION="${PHOENIX_VERSION:-20.26.1}"
PHOENIX_CLIENT_VERSION="${PHOENIX_CLIENT_VERSION:-3.5.0}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${HARNESS_PHOENIX_DIR:-$ROOT/.harness/phoenix}"
STAMP="$DIR/.installed-phoenix-$PHOENIX_VERSION-client-$PHOENIX_CLIENT_VERSION"
PYTHON="${PYTHON:-python3}"

if [ -f "$STAMP" ] && [ -x "$DIR/bin/phoenix" ]; then
  echo "$DIR"
  exit 0
fi

mkdir -p "$DIR"
[ -x "$DIR/bin/python" ] || "$PYTHON" -m venv "$DIR"
"$DIR/bin/python" -m pip install --quiet --disable-pip-version-check \
  "arize-phoenix==$PHOENIX_VERSION" "arize-phoenix-client==$PHOENIX_CLIENT_VERSION" >&2

# pip made DIR/bin/phoenix; the wrapper beside it keeps everything offline
cat > "$DIR/bin/phoenix-offline" <<WRAP
#!/usr/bin/env bash
# phoenix $PHOENIX_VERSION, offline (written by tools/phoenix/install.sh)
export PHOENIX_TELEMETRY_ENABLED=false PHOENIX_ALLOW_EXTERNAL_RESOURCES=false
exec "$DIR/bin/phoenix" "\$@"
WRAP
chmod +x "$DIR/bin/phoenix-offline"
"$DIR/bin/python" -c "import phoenix, phoenix.client; print('phoenix', phoenix.__version__)" >&2
touch "$STAMP"
echo "$DIR"
