# One Cloud Run v2 service per harness service, each with its own service account (from
# modules/iam), its own image, its env map (env.tf) and the grants that belong to it:
# which secrets it reads and who may invoke it.

locals {
  # push: receives Pub/Sub push (/pubsub/push); sql: the Cloud SQL connection (the registry,
  # and the gateway for its keys, budgets, traces and cost alerts).
  services = {
    registry  = { ingress = "INGRESS_TRAFFIC_ALL", push = true, sql = true }
    runner    = { ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", push = true, sql = false }
    scorer    = { ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", push = true, sql = false }
    generator = { ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY", push = true, sql = false }
    gateway   = { ingress = "INGRESS_TRAFFIC_ALL", push = false, sql = true }
    studio    = { ingress = "INGRESS_TRAFFIC_ALL", push = false, sql = false }
  }

  # Internal services are reached only by Pub/Sub push; the others per var.access.
  access = { for name, s in local.services : name => lookup(var.access, name, "internal") }

  # The runner's shards are CPU-bound (LiteLLM spends ~7 ms of CPU per call): two shards
  # per vCPU keep it busy while calls wait, and a big run spreads over many instances
  # (a run of 480 shards uses up to 20 at once) instead of queueing on one.
  default_sizing = {
    registry  = { cpu = "1", memory = "1Gi", min_instances = 0, max_instances = 3, concurrency = 80, timeout_seconds = 300, cpu_always_allocated = true }
    runner    = { cpu = "1", memory = "1Gi", min_instances = 0, max_instances = 20, concurrency = 2, timeout_seconds = 600, cpu_always_allocated = true }
    scorer    = { cpu = "2", memory = "4Gi", min_instances = 0, max_instances = 3, concurrency = 4, timeout_seconds = 600, cpu_always_allocated = true }
    generator = { cpu = "1", memory = "2Gi", min_instances = 0, max_instances = 3, concurrency = 10, timeout_seconds = 600, cpu_always_allocated = true }
    gateway   = { cpu = "1", memory = "512Mi", min_instances = 0, max_instances = 3, concurrency = 80, timeout_seconds = 300, cpu_always_allocated = false }
    studio    = { cpu = "1", memory = "1Gi", min_instances = 0, max_instances = 3, concurrency = 40, timeout_seconds = 3600, cpu_always_allocated = false }
  }

  # var.sizing overrides only the attributes it sets.
  sizing = {
    for name, d in local.default_sizing :
    name => merge(d, { for k, v in try(var.sizing[name], {}) : k => v if v != null })
  }

  image = { for name, s in local.services : name => "${var.image_repository}/${name}:${var.image_tag}" }

  # Services whose metrics the Managed Service for Prometheus sidecar scrapes (the
  # studio serves none).
  prometheus = { for name, s in local.services : name => var.managed_prometheus && name != "studio" }

  # Requests reach the service on service_port (Cloud Run sets PORT to it). The sidecar's
  # default RunMonitoring scrapes localhost:8080/metrics every 30 s and sends no API key,
  # so 8080 is the loopback metrics listener (HARNESS_METRICS_PORT, env.tf): /metrics
  # without a key on 127.0.0.1 only, which the containers of one instance share and
  # nothing else reaches; the public /metrics keeps its key.
  service_port = 8000
  metrics_port = 8080
}

# Everything the revisions need at start-up that other modules create: secret versions
# (a secret without a version fails the deploy) and the run-time grants.
resource "terraform_data" "prerequisites" {
  input = var.wait_for
}

resource "google_secret_manager_secret_iam_member" "reader" {
  for_each = local.secret_readers

  project   = var.project_id
  secret_id = var.secret_ids[each.value.secret]
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${var.service_accounts[each.value.service]}"
}

resource "google_cloud_run_v2_service" "service" {
  provider = google-beta
  for_each = local.services

  project             = var.project_id
  name                = "${var.prefix}${each.key}"
  location            = var.region
  ingress             = each.value.ingress
  deletion_protection = var.deletion_protection
  iap_enabled         = local.access[each.key] == "iap"
  launch_stage        = local.access[each.key] == "iap" ? "BETA" : "GA"
  labels              = merge(var.labels, { service = each.key })

  template {
    service_account                  = var.service_accounts[each.key]
    timeout                          = "${local.sizing[each.key].timeout_seconds}s"
    max_instance_request_concurrency = local.sizing[each.key].concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    session_affinity                 = each.key == "studio" # Streamlit keeps a session per browser tab
    labels                           = merge(var.labels, { service = each.key })

    scaling {
      min_instance_count = local.sizing[each.key].min_instances
      max_instance_count = local.sizing[each.key].max_instances
    }

    # Direct VPC egress, private ranges only: Cloud SQL's private IP goes through the
    # VPC, everything else (Google APIs, LLM providers) the usual way.
    dynamic "vpc_access" {
      for_each = each.value.sql ? [1] : []
      content {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = var.network
          subnetwork = var.subnetwork
        }
      }
    }

    dynamic "volumes" {
      for_each = each.value.sql ? [var.sql_connection_name] : []
      content {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [volumes.value]
        }
      }
    }

    containers {
      name  = each.key
      image = local.image[each.key]

      ports {
        container_port = local.service_port
      }

      resources {
        limits = {
          cpu    = local.sizing[each.key].cpu
          memory = local.sizing[each.key].memory
        }
        # false = instance-based billing: CPU stays allocated between requests, which the
        # outbox relay (registry) and the workers' background tasks need.
        cpu_idle          = !local.sizing[each.key].cpu_always_allocated
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = local.secret_env[each.key]
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = var.secret_names[env.value]
              version = "latest"
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = each.value.sql ? [1] : []
        content {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
      }
    }

    # Managed Service for Prometheus: scrapes localhost:8080/metrics (local.metrics_port,
    # the service's loopback listener) every 30 s into Cloud Monitoring (its default
    # RunMonitoring configuration).
    dynamic "containers" {
      for_each = local.prometheus[each.key] ? [1] : []
      content {
        name       = "prometheus"
        image      = var.prometheus_sidecar_image
        depends_on = [each.key]
        resources {
          limits = {
            cpu    = "1"
            memory = "256Mi"
          }
        }
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.reader,
    terraform_data.prerequisites,
  ]
}

# --- Who may invoke ---------------------------------------------------------------------

# Pub/Sub push requests carry OIDC tokens of the push service account.
resource "google_cloud_run_v2_service_iam_member" "push" {
  for_each = { for name, s in local.services : name => s if s.push }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.service[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.push_service_account}"
}

# access = "public": anyone may reach the service; the registry and the gateway then
# require harness API keys themselves, the studio its own login (or use "iap").
resource "google_cloud_run_v2_service_iam_member" "public" {
  for_each = { for name, a in local.access : name => a if a == "public" }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.service[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# access = "private": only these principals (with Google-signed ID tokens) may invoke.
resource "google_cloud_run_v2_service_iam_member" "private" {
  for_each = {
    for pair in flatten([
      for name, a in local.access : [for m in var.invoker_members : { service = name, member = m }] if a == "private"
    ]) : "${pair.service}-${pair.member}" => pair
  }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.service[each.value.service].name
  role     = "roles/run.invoker"
  member   = each.value.member
}

# access = "iap": IAP checks the user, then calls the service as its own service agent.
resource "google_cloud_run_v2_service_iam_member" "iap_agent" {
  for_each = { for name, a in local.access : name => a if a == "iap" }

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.service[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:service-${var.project_number}@gcp-sa-iap.iam.gserviceaccount.com"
}

resource "google_iap_web_cloud_run_service_iam_member" "iap_user" {
  for_each = {
    for pair in flatten([
      for name, a in local.access : [for m in var.iap_members : { service = name, member = m }] if a == "iap"
    ]) : "${pair.service}-${pair.member}" => pair
  }

  project                = var.project_id
  location               = var.region
  cloud_run_service_name = google_cloud_run_v2_service.service[each.value.service].name
  role                   = "roles/iap.httpsResourceAccessor"
  member                 = each.value.member
}

# --- Admin job ------------------------------------------------------------------------

# `harness` CLI commands against the production database (first API key, projection
# rebuilds): the registry's image, identity, env and Cloud SQL connection, run on demand:
#   gcloud run jobs execute harness-admin --region REGION --wait \
#     --args=keys,create,--name,alice,--role,admin
resource "google_cloud_run_v2_job" "admin" {
  provider = google-beta

  project             = var.project_id
  name                = "${var.prefix}admin"
  location            = var.region
  deletion_protection = var.deletion_protection
  labels              = merge(var.labels, { service = "registry" })

  template {
    task_count = 1

    template {
      service_account = var.service_accounts["registry"]
      timeout         = "3600s"
      max_retries     = 0

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = var.network
          subnetwork = var.subnetwork
        }
      }

      volumes {
        name = "cloudsql"
        cloud_sql_instance {
          instances = [var.sql_connection_name]
        }
      }

      containers {
        image   = local.image["registry"]
        command = ["harness"]
        args    = ["--help"]

        resources {
          limits = {
            cpu    = "1"
            memory = "1Gi"
          }
        }

        dynamic "env" {
          for_each = local.env["registry"]
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = local.secret_env["registry"]
          content {
            name = env.key
            value_source {
              secret_key_ref {
                secret  = var.secret_names[env.value]
                version = "latest"
              }
            }
          }
        }

        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
      }
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.reader,
    terraform_data.prerequisites,
  ]
}
