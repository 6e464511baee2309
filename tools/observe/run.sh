#!/usr/bin/env bash
# `make observe`: Prometheus (and Grafana when installed) pointed at `harness up`.
#   HARNESS_METRICS_TARGET  host:port of `harness up` (default 127.0.0.1:8000)
#   HARNESS_API_KEY         a key with the role `metrics`, once the server has keys
#   PROMETHEUS_PORT / GRAFANA_PORT   (default 9090 / 3000)
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${HARNESS_METRICS_TARGET:-127.0.0.1:8000}"
prom_port="${PROMETHEUS_PORT:-9090}"
grafana_port="${GRAFANA_PORT:-3000}"
dir="$PWD/.harness/observe"
mkdir -p "$dir/prometheus-data"
prom="$(command -v prometheus || true)"
if [ -z "$prom" ]; then
  echo "prometheus is not installed: apt-get install -y --no-install-recommends prometheus" >&2
  exit 1
fi
auth=""
if [ -n "${HARNESS_API_KEY:-}" ]; then
  printf '%s' "$HARNESS_API_KEY" > "$dir/api-key"
  chmod 600 "$dir/api-key"
  auth="    authorization:
      credentials_file: $dir/api-key"
fi
cat > "$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: harness
    metrics_path: /metrics
$auth
    static_configs:
      - targets: ["$target"]
YAML
echo "Prometheus on http://127.0.0.1:$prom_port scraping http://$target/metrics"
"$prom" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus-data" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn &
prom_pid=$!
grafana_pid=""
trap 'kill $prom_pid ${grafana_pid} 2>/dev/null || true' EXIT INT TERM
if command -v grafana-server >/dev/null 2>&1; then
  home="${GRAFANA_HOME:-/usr/share/grafana}"
  HARNESS_DASHBOARDS="$PWD/infra/grafana/dashboards" \
  HARNESS_PROMETHEUS_URL="http://127.0.0.1:$prom_port" \
  GF_PATHS_PROVISIONING="$PWD/infra/grafana/provisioning" GF_PATHS_DATA="$dir/grafana" \
  GF_SERVER_HTTP_ADDR=127.0.0.1 GF_SERVER_HTTP_PORT="$grafana_port" \
  GF_AUTH_ANONYMOUS_ENABLED=true GF_ANALYTICS_REPORTING_ENABLED=false \
    grafana-server --homepath "$home" &
  grafana_pid=$!
  echo "Grafana on http://127.0.0.1:$grafana_port (dashboards in the folder 'harness')"
else
  echo "Grafana is not installed here: install it from Grafana's own packages, then"
  echo "  HARNESS_DASHBOARDS=$PWD/infra/grafana/dashboards HARNESS_PROMETHEUS_URL=http://127.0.0.1:$prom_port \\"
  echo "  GF_PATHS_PROVISIONING=$PWD/infra/grafana/provisioning grafana-server --homepath /usr/share/grafana"
  echo "or import infra/grafana/dashboards/*.json into a Grafana you run (data source: Prometheus)."
fi
wait $prom_pid
