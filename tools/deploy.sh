#!/usr/bin/env bash
# Build and push the service images, then `terraform apply` one environment.
#
#   tools/deploy.sh dev|prod          (make deploy ENV=dev wraps this)
#
# Environment:
#   STATE_BUCKET  GCS bucket holding Terraform state (required; docs/deploy.md)
#   BUILDER       cloudbuild (default; no local Docker needed) | docker
#   TAG           image tag; default: the git commit (+ -dirty-<time> for a dirty tree).
#                 Deploying an older TAG whose images exist is a rollback: nothing is built.
#   SERVICES      which images to build (default: all six)
#   AUTO_APPROVE  1 = apply without asking
set -euo pipefail

ENV_NAME=${1:-${ENV:-}}
case "$ENV_NAME" in
  dev|prod) ;;
  *) echo "usage: $0 dev|prod" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
TF_DIR="infra/terraform/envs/$ENV_NAME"
: "${STATE_BUCKET:?set STATE_BUCKET to the GCS bucket that holds Terraform state}"
BUILDER=${BUILDER:-cloudbuild}
SERVICES=${SERVICES:-registry runner scorer generator gateway studio}
if [ -z "${TAG:-}" ]; then
  TAG=$(git rev-parse --short=12 HEAD)
  git diff --quiet HEAD -- || TAG="$TAG-dirty-$(date +%Y%m%d%H%M%S)"
fi
APPROVE=()
[ "${AUTO_APPROVE:-0}" = 1 ] && APPROVE=(-auto-approve)

for tool in terraform gcloud; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 2; }
done
[ -f "$TF_DIR/terraform.tfvars" ] || {
  echo "$TF_DIR/terraform.tfvars is missing: copy terraform.tfvars.example and fill it in" >&2
  exit 2
}

tf() { terraform -chdir="$TF_DIR" "$@"; }

echo "== terraform init ($ENV_NAME, state in gs://$STATE_BUCKET)"
tf init -input=false -backend-config="bucket=$STATE_BUCKET"

# Services need their images to exist, and images need the repository (and the APIs):
# create those first, on their own.
echo "== APIs and image repository"
tf apply -input=false "${APPROVE[@]}" -var "image_tag=$TAG" \
  -target=module.platform.module.project -target=module.platform.module.images
REPO=$(tf output -raw image_repository)          # REGION-docker.pkg.dev/PROJECT/REPO
PROJECT=$(cut -d/ -f2 <<<"$REPO")
REGION=${REPO%%-docker.pkg.dev*}

echo "== images $REPO/<service>:$TAG ($BUILDER)"
# One Dockerfile at the repository root; the SERVICE build argument picks the service
for service in $SERVICES; do
  image="$REPO/$service:$TAG"
  [ -f "services/$service/__main__.py" ] || { echo "no service named $service" >&2; exit 1; }
  # Tags are immutable in the repository: an existing one is never rebuilt.
  if gcloud artifacts docker images describe "$image" --project "$PROJECT" >/dev/null 2>&1; then
    echo "   $service: $TAG exists"
    continue
  fi
  case "$BUILDER" in
    docker)
      docker build --build-arg "SERVICE=$service" -t "$image" .
      docker push "$image"
      ;;
    cloudbuild)
      config=$(mktemp)
      cat >"$config" <<YAML
steps:
  - name: gcr.io/cloud-builders/docker
    args: [build, --build-arg, SERVICE=$service, -t, $image, .]
images: [$image]
YAML
      gcloud builds submit --project "$PROJECT" --region "$REGION" --config "$config" .
      rm -f "$config"
      ;;
    *) echo "BUILDER must be cloudbuild or docker" >&2; exit 2 ;;
  esac
done

echo "== terraform apply ($ENV_NAME, images $TAG)"
tf apply -input=false "${APPROVE[@]}" -var "image_tag=$TAG"
tf output service_urls
