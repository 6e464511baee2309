# The whole platform in one project; envs/dev and envs/prod call this with their values.

locals {
  services = ["registry", "runner", "scorer", "generator", "gateway", "studio"]

  labels = merge(var.labels, { app = "harness", env = var.environment })

  # Cloud Run's deterministic URLs (https://SERVICE-PROJECT_NUMBER.REGION.run.app) are
  # known before the services exist, so push endpoints, OIDC audiences and HARNESS_URL
  # do not wait for (or cycle through) the services themselves.
  service_urls = {
    for s in local.services :
    s => "https://${var.prefix}${s}-${module.project.project_number}.${var.region}.run.app"
  }
}

module "project" {
  source = "../project"

  project_id = var.project_id
}

module "network" {
  source = "../network"

  project_id  = var.project_id
  region      = var.region
  prefix      = var.prefix
  egress_cidr = var.egress_cidr

  depends_on = [module.project]
}

module "secrets" {
  source = "../secrets"

  project_id        = var.project_id
  region            = var.region
  prefix            = var.prefix
  openai_api_key    = var.openai_api_key
  anthropic_api_key = var.anthropic_api_key
  kms_key_name      = var.kms_key_name
  labels            = local.labels

  depends_on = [module.project]
}

module "sql" {
  source = "../sql"

  project_id             = var.project_id
  region                 = var.region
  prefix                 = var.prefix
  network_id             = module.network.network_id
  database_url_secret_id = module.secrets.ids["database-url"]
  tier                   = var.sql_tier
  high_availability      = var.sql_high_availability
  deletion_protection    = var.sql_deletion_protection
  kms_key_name           = var.kms_key_name
  labels                 = local.labels

  # Private IP needs the private services access peering first.
  depends_on = [module.network]
}

module "storage" {
  source = "../storage"

  project_id    = var.project_id
  location      = var.region
  prefix        = var.prefix
  force_destroy = var.force_destroy_buckets
  kms_key_name  = var.kms_key_name
  labels        = local.labels

  depends_on = [module.project]
}

module "images" {
  source = "../images"

  project_id   = var.project_id
  region       = var.region
  prefix       = var.prefix
  kms_key_name = var.kms_key_name
  labels       = local.labels

  depends_on = [module.project]
}

module "iam" {
  source = "../iam"

  project_id                           = var.project_id
  prefix                               = var.prefix
  services                             = local.services
  topics                               = module.pubsub.topics
  source_subscriptions                 = module.pubsub.source_subscriptions
  registry_events_example_enabled      = var.registry_events_example_subscription
  registry_events_example_subscription = module.pubsub.registry_events_example_subscription
  registry_events_subscribers          = var.registry_events_subscribers
  pubsub_service_agent                 = module.project.pubsub_service_agent
  artifacts_bucket                     = module.storage.bucket
  sql_instance_name                    = module.sql.instance_name
}

module "pubsub" {
  source = "../pubsub"

  project_id                           = var.project_id
  prefix                               = var.prefix
  service_urls                         = local.service_urls
  push_service_account_email           = module.iam.push_service_account
  max_delivery_attempts                = var.max_delivery_attempts
  registry_events_example_subscription = var.registry_events_example_subscription
  kms_key_name                         = var.kms_key_name
  labels                               = local.labels
}

module "services" {
  source = "../services"

  project_id           = var.project_id
  project_number       = module.project.project_number
  region               = var.region
  prefix               = var.prefix
  service_urls         = local.service_urls
  registry_url         = var.registry_url
  service_accounts     = module.iam.service_accounts
  push_service_account = module.iam.push_service_account
  image_repository     = module.images.repository
  image_tag            = var.image_tag
  artifacts_uri        = module.storage.uri
  sql_connection_name  = module.sql.connection_name
  network              = module.network.network_name
  subnetwork           = module.network.subnet_name
  secret_ids           = module.secrets.ids
  secret_names         = module.secrets.names
  service_key_sha256   = module.secrets.service_key_sha256
  access               = var.access
  iap_members          = var.iap_members
  invoker_members      = var.invoker_members
  sizing               = var.sizing
  db_pool_max_size     = var.db_pool_max_size
  judge_model          = var.judge_model
  deletion_protection  = var.services_deletion_protection
  labels               = local.labels

  wait_for = concat(
    [module.sql.database_url_version],
    module.secrets.versions,
    module.iam.grants,
  )
}

module "monitoring" {
  source = "../monitoring"

  project_id            = var.project_id
  project_number        = module.project.project_number
  prefix                = var.prefix
  alert_emails          = var.alert_emails
  max_delivery_attempts = var.max_delivery_attempts
  billing_account       = var.billing_account
  monthly_budget        = var.monthly_budget
  budget_currency       = var.budget_currency

  depends_on = [module.project]
}
