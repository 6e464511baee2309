# Cloud SQL for PostgreSQL 15: the event store. Private IP only (no public address), TLS
# with client certificates required (the connector's ephemeral ones), daily backups with point-in-time recovery, deletion protection on twice
# (in Terraform and in the Cloud SQL API).
#
# The password is generated here and leaves this module only inside the DATABASE_URL
# secret version; no output carries it.

resource "random_password" "db" {
  length  = 32
  special = false # the password goes into a URL; 32 alphanumerics are ~190 bits
}

resource "google_sql_database_instance" "main" {
  #checkov:skip=CKV_GCP_79:The issue pins PostgreSQL 15, the major version the event store is tested against; upgrades are a deliberate, tested change.
  project             = var.project_id
  name                = "${var.prefix}db"
  region              = var.region
  database_version    = "POSTGRES_15"
  deletion_protection = var.deletion_protection
  encryption_key_name = var.kms_key_name

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.high_availability ? "REGIONAL" : "ZONAL"
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    deletion_protection_enabled = var.deletion_protection
    # Only the Cloud SQL Auth Proxy / connectors (IAM-checked, mTLS) may connect: Cloud
    # Run's Cloud SQL connection is one.
    connector_enforcement = "REQUIRED"
    user_labels           = var.labels

    backup_configuration {
      enabled                        = true
      point_in_time_recovery_enabled = true
      start_time                     = var.backup_start_time
      transaction_log_retention_days = var.log_retention_days

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }

    ip_configuration {
      ipv4_enabled                                  = false
      private_network                               = var.network_id
      ssl_mode                                      = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
      enable_private_path_for_google_cloud_services = true
    }

    maintenance_window {
      day          = 7
      hour         = 3
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = false
      record_client_address   = false
    }

    # Audit-friendly logging; statements themselves are not logged (log_statement=ddl,
    # log_min_duration_statement=-1) because they carry prompt and dataset content.
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }
    database_flags {
      name  = "log_duration"
      value = "on"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }
}

resource "google_sql_database" "harness" {
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = var.database_name
}

resource "google_sql_user" "harness" {
  project  = var.project_id
  instance = google_sql_database_instance.main.name
  name     = var.user_name
  password = random_password.db.result
}

# The whole URL is the secret: the registry reads DATABASE_URL as it is, through Cloud
# Run's Cloud SQL connection (a Unix socket under /cloudsql/).
resource "google_secret_manager_secret_version" "database_url" {
  secret      = var.database_url_secret_id
  secret_data = "postgresql://${google_sql_user.harness.name}:${random_password.db.result}@/${google_sql_database.harness.name}?host=/cloudsql/${google_sql_database_instance.main.connection_name}"
}
