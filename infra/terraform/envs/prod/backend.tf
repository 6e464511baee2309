# State lives in a GCS bucket you create once (docs/deploy.md, "State bucket"); the
# bucket name is passed at init: terraform init -backend-config="bucket=$STATE_BUCKET"
terraform {
  backend "gcs" {
    prefix = "harness/prod"
  }
}
