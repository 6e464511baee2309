# harness, dev: everything in one GCP project. `make deploy ENV=dev` builds and pushes
# the images, then applies this (docs/deploy.md).

provider "google" {
  project = var.project_id
  region  = var.region

  # The budget API needs a quota project when called with user credentials.
  user_project_override = true
  billing_project       = var.project_id
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  user_project_override = true
  billing_project       = var.project_id
}

module "platform" {
  source = "../../modules/platform"

  project_id  = var.project_id
  region      = var.region
  environment = "dev"
  prefix      = var.prefix
  image_tag   = var.image_tag

  registry_url    = var.registry_url
  access          = var.access
  iap_members     = var.iap_members
  invoker_members = var.invoker_members
  sizing          = var.sizing
  judge_model     = var.judge_model

  sql_tier                     = var.sql_tier
  sql_high_availability        = var.sql_high_availability
  sql_deletion_protection      = true
  services_deletion_protection = false
  force_destroy_buckets        = true
  db_pool_max_size             = var.db_pool_max_size

  registry_events_example_subscription = var.registry_events_example_subscription
  registry_events_subscribers          = var.registry_events_subscribers

  openai_api_key    = var.openai_api_key
  anthropic_api_key = var.anthropic_api_key
  kms_key_name      = var.kms_key_name

  alert_emails    = var.alert_emails
  billing_account = var.billing_account
  monthly_budget  = var.monthly_budget
  budget_currency = var.budget_currency
}
