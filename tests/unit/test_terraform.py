"""The Terraform in infra/terraform agrees with the code's own configuration.

Parsed statically with python-hcl2 (no providers, no network): the Pub/Sub topology of
``harness.bus.topics``, one Cloud Run service and service account per service in
``SERVICES``, every environment variable ``harness.config.Settings`` reads for a service,
least-privilege IAM (no primitive roles), Cloud SQL and bucket safety settings.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

hcl2 = pytest.importorskip("hcl2", minversion="8", reason="python-hcl2 >= 8 parses the Terraform")

from harness.bus.topics import (  # noqa: E402
    SERVICES,
    TOPICS,
    dead_letter_name,
    subscription_name,
    topic_name,
)
from harness.config import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "infra" / "terraform"
MODULES = ROOT / "modules"
ENVS = ("dev", "prod")
PREFIX = "harness-"  # the default of var.prefix and of Settings.topic_prefix
PROJECT_NUMBER = "123456789012"
REGION = "us-central1"

# What each service reads from Settings (field names), beyond the ones every service reads.
COMMON_FIELDS = {"service", "bus", "gcp_project", "topic_prefix", "log_json", "host", "port"}
WORKER_FIELDS = {"url", "api_key", "artifacts_uri", "push_audience", "push_service_account",
                 "judge_model"}
REQUIRED_FIELDS: dict[str, set[str]] = {
    "registry": {"database_url", "artifacts_uri", "push_audience", "push_service_account"},
    "runner": WORKER_FIELDS,
    "scorer": WORKER_FIELDS,
    "generator": WORKER_FIELDS,
    "gateway": {"url", "api_key", "database_url"},
    "studio": {"url", "api_key", "studio_access"},
}
# Read by LiteLLM, not by Settings.
PROVIDER_KEYS = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}
LLM_SERVICES = {"runner", "scorer", "generator", "gateway"}
# Set by the Terraform for code that is being written (the registry's bootstrap key).
PENDING_SETTINGS = {"HARNESS_BOOTSTRAP_KEY_SHA256"}
# Set by Cloud Run itself; setting it in the env map is rejected at deploy time.
RESERVED = {"PORT"}

PRIMITIVE_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
ALLOWED_ROLES = {
    "roles/pubsub.publisher", "roles/pubsub.subscriber", "roles/iam.serviceAccountTokenCreator",
    "roles/storage.objectAdmin", "roles/storage.objectCreator", "roles/cloudsql.client",
    "roles/secretmanager.secretAccessor", "roles/run.invoker", "roles/iap.httpsResourceAccessor",
    # write-only: the Managed Service for Prometheus sidecars send the services' metrics
    "roles/monitoring.metricWriter",
}
ARTIFACT_USERS = {"registry", "runner", "scorer", "generator"}


# ------------------------------------------------------------------------------ parsing


@cache
def module(path: Path) -> dict[str, Any]:
    """Every .tf file of one directory, merged: resources by type and name, locals,
    variables, outputs, module calls, terraform blocks."""
    opts = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False,
                                     with_comments=False)
    out: dict[str, Any] = {"resource": {}, "locals": {}, "variable": {}, "output": {},
                           "module": {}, "terraform": [], "provider": {}}
    files = sorted(path.glob("*.tf"))
    assert files, f"no Terraform in {path}"
    for f in files:
        doc = hcl2.loads(f.read_text(), serialization_options=opts)
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    assert name not in out["resource"].get(rtype, {}), f"{rtype}.{name} twice"
                    out["resource"].setdefault(rtype, {})[name] = body
        for key in ("locals", "variable", "output", "module", "provider"):
            for block in doc.get(key, []):
                out[key].update(block)
        out["terraform"].extend(doc.get("terraform", []))
    return out


def mod(name: str) -> dict[str, Any]:
    return module(MODULES / name)


def res(module_name: str, rtype: str, name: str) -> dict[str, Any]:
    resources = mod(module_name)["resource"]
    assert name in resources.get(rtype, {}), f"modules/{module_name}: no {rtype}.{name}"
    return resources[rtype][name]


def all_dirs() -> list[Path]:
    return sorted({p.parent for p in ROOT.rglob("*.tf") if ".terraform" not in p.parts})


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` of a resource body."""
    value = body.get(name)
    assert isinstance(value, list) and len(value) == 1, f"expected one {name} block"
    return value[0]


_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


def render(value: str, ctx: dict[str, str]) -> str:
    """Evaluate a template whose interpolations are all simple references in ``ctx``."""
    def sub(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        if expr not in ctx:
            raise AssertionError(f"cannot evaluate ${{{expr}}} in {value!r}")
        return ctx[expr]
    return _INTERPOLATION.sub(sub, value)


def squash(expr: str) -> str:
    return re.sub(r"\s+", "", expr)


def walk_strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from walk_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk_strings(v)


@cache
def service_url(service: str) -> str:
    """A service's URL as modules/platform computes it (deterministic run.app URL)."""
    expr = mod("platform")["locals"]["service_urls"]
    m = re.search(r'=>\s*"(.*)"\s*\}\}?$', expr)
    assert m, f"unexpected service_urls expression: {expr}"
    return render(m.group(1), {"var.prefix": PREFIX, "s": service,
                               "module.project.project_number": PROJECT_NUMBER,
                               "var.region": REGION})


def url_ctx() -> dict[str, str]:
    ctx: dict[str, str] = {}
    for s in SERVICES:
        ctx[f'var.service_urls["{s}"]'] = service_url(s)
    return ctx


def settings_env_names() -> dict[str, set[str]]:
    """Field name -> the environment variable names Settings reads it from."""
    prefix = Settings.model_config.get("env_prefix", "")
    names: dict[str, set[str]] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if alias is None:
            names[field] = {f"{prefix}{field}".upper()}
        elif isinstance(alias, str):
            names[field] = {alias.upper()}
        else:  # AliasChoices
            names[field] = {c.upper() for c in alias.choices if isinstance(c, str)}
    return names


def service_env() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(plain env, secret env) per service, evaluated from modules/services/env.tf."""
    loc = mod("services")["locals"]
    assert squash(loc["env"]) == squash(
        "${{for name in keys(local.services) : name => merge(local.common_env, "
        "{HARNESS_SERVICE = name}, local.service_env[name])}}"
    ), "local.env must be common_env + HARNESS_SERVICE + service_env[name]"
    env = {name: {**loc["common_env"], "HARNESS_SERVICE": name, **loc["service_env"][name]}
           for name in loc["services"]}
    secret_env = {}
    for name, value in loc["secret_env"].items():
        if isinstance(value, str):  # a reference to another local: "${local.x}"
            m = re.fullmatch(r"\$\{local\.(\w+)\}", value)
            assert m, f"secret_env[{name}]: unexpected {value!r}"
            value = loc[m.group(1)]
        secret_env[name] = value
    return env, secret_env


# --------------------------------------------------------------------------- pub/sub


def tf_topics() -> dict[str, dict[str, Any]]:
    return mod("pubsub")["locals"]["topics"]


def test_every_topic_of_the_code_exists_with_its_dead_letter_topic_and_subscription() -> None:
    topics = tf_topics()
    assert set(topics) == {t.key for t in TOPICS}
    topic = res("pubsub", "google_pubsub_topic", "topic")
    dead = res("pubsub", "google_pubsub_topic", "dead_letter")
    dead_sub = res("pubsub", "google_pubsub_subscription", "dead_letter")
    for body in (topic, dead, dead_sub):
        assert body["for_each"] == "${local.topics}"
    for t in TOPICS:
        ctx = {"var.prefix": PREFIX, "each.key": t.key}
        assert render(topic["name"], ctx) == topic_name(t.key, PREFIX)
        assert render(dead["name"], ctx) == dead_letter_name(t.key, PREFIX)
        # the pull subscription on the dead-letter topic is named like the topic
        assert render(dead_sub["name"], ctx) == dead_letter_name(t.key, PREFIX)
        assert topics[t.key]["ordered"] is t.ordered
        assert list(topics[t.key]["consumers"]) == list(t.consumers)
        assert t.publisher in topics[t.key]["publishers"]
    assert dead_sub["topic"] == "${google_pubsub_topic.dead_letter[each.key].id}"
    assert dead_sub["expiration_policy"][0]["ttl"] == ""


def test_every_consumer_has_a_push_subscription_to_its_service() -> None:
    push = res("pubsub", "google_pubsub_subscription", "push")
    assert push["for_each"] == "${local.push}"
    assert "for c in t.consumers" in mod("pubsub")["locals"]["push"]
    pairs = [(t, c) for t in TOPICS for c in t.consumers]
    assert pairs, "the code has consumers"
    names = set()
    for t, consumer in pairs:
        ctx = {"var.prefix": PREFIX, "each.value.topic": t.key, "each.value.consumer": consumer,
               "var.service_urls[each.value.consumer]": service_url(consumer)}
        names.add(render(push["name"], ctx))
        config = block(push, "push_config")
        assert render(config["push_endpoint"], ctx) == f"{service_url(consumer)}/pubsub/push"
        oidc = block(config, "oidc_token")
        assert oidc["service_account_email"] == "${var.push_service_account_email}"
        assert render(oidc["audience"], ctx) == service_url(consumer)
    assert names == {subscription_name(t.key, c, PREFIX) for t, c in pairs}

    assert push["topic"] == "${google_pubsub_topic.topic[each.value.topic].id}"
    assert push["enable_message_ordering"] == "${local.topics[each.value.topic].ordered}"
    dlp = block(push, "dead_letter_policy")
    assert dlp["dead_letter_topic"] == "${google_pubsub_topic.dead_letter[each.value.topic].id}"
    assert dlp["max_delivery_attempts"] == "${var.max_delivery_attempts}"
    retry = block(push, "retry_policy")
    assert retry["minimum_backoff"] and retry["maximum_backoff"]
    assert "ack_deadline_seconds" in push and "message_retention_duration" in push
    variables = mod("pubsub")["variable"]
    assert 5 <= variables["max_delivery_attempts"]["default"] <= 100
    for consumer, seconds in variables["ack_deadline_seconds"]["default"].items():
        assert consumer in SERVICES and 10 <= seconds <= 600


def test_push_urls_are_the_services_deterministic_urls() -> None:
    service = res("services", "google_cloud_run_v2_service", "service")
    platform = mod("platform")
    assert platform["locals"]["services"] == list(SERVICES)
    for s in SERVICES:
        name = render(service["name"], {"var.prefix": PREFIX, "each.key": s})
        assert service_url(s) == f"https://{name}-{PROJECT_NUMBER}.{REGION}.run.app"
    calls = platform["module"]
    assert calls["pubsub"]["service_urls"] == "${local.service_urls}"
    assert calls["services"]["service_urls"] == "${local.service_urls}"
    assert calls["pubsub"]["prefix"] == calls["services"]["prefix"] == "${var.prefix}"
    assert platform["variable"]["prefix"]["default"] == PREFIX
    assert Settings.model_fields["topic_prefix"].default == PREFIX


# ------------------------------------------------------------------------- services


def test_every_service_has_a_cloud_run_service_and_its_own_service_account() -> None:
    services = mod("services")["locals"]["services"]
    assert set(services) == set(SERVICES)
    run = res("services", "google_cloud_run_v2_service", "service")
    assert run["for_each"] == "${local.services}"
    template = block(run, "template")
    assert template["service_account"] == "${var.service_accounts[each.key]}"
    container = block(template, "containers")
    assert container["image"] == "${local.image[each.key]}"
    assert "/${name}:${var.image_tag}" in mod("services")["locals"]["image"]

    sa = res("iam", "google_service_account", "service")
    assert sa["for_each"] == "${toset(var.services)}"
    accounts = {render(sa["account_id"], {"var.prefix": PREFIX, "each.key": s}) for s in SERVICES}
    assert len(accounts) == len(SERVICES)
    assert all(6 <= len(a) <= 30 for a in accounts)
    calls = mod("platform")["module"]
    assert calls["iam"]["services"] == "${local.services}"
    assert calls["services"]["service_accounts"] == "${module.iam.service_accounts}"


def test_workers_are_internal_and_push_consumers_are_invokable_by_the_push_account() -> None:
    services = mod("services")["locals"]["services"]
    consumers = {c for t in TOPICS for c in t.consumers}
    for name, s in services.items():
        assert s["push"] is (name in consumers), name
        if name in {"runner", "scorer", "generator"}:
            assert s["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY", name
    push = res("services", "google_cloud_run_v2_service_iam_member", "push")
    assert push["role"] == "roles/run.invoker"
    assert push["member"] == "serviceAccount:${var.push_service_account}"
    assert "if s.push" in push["for_each"]
    assert [n for n, s in services.items() if s["sql"]] == ["registry", "gateway"]


def test_services_scale_to_zero_by_default() -> None:
    sizing = mod("services")["locals"]["default_sizing"]
    assert set(sizing) == set(SERVICES)
    for name, s in sizing.items():
        assert s["min_instances"] == 0, name
        assert s["max_instances"] >= 1 and s["concurrency"] >= 1 and s["timeout_seconds"] > 0


def test_every_environment_variable_a_service_reads_is_set() -> None:
    names = settings_env_names()
    known = set().union(*names.values()) | PROVIDER_KEYS | PENDING_SETTINGS
    env, secret_env = service_env()
    run = res("services", "google_cloud_run_v2_service", "service")
    container = block(block(run, "template"), "containers")
    dynamic_envs = [d["env"] for d in container["dynamic"] if "env" in d]
    assert {d["for_each"] for d in dynamic_envs} == {"${local.env[each.key]}",
                                                    "${local.secret_env[each.key]}"}
    assert block(container, "ports")["container_port"] == "${local.service_port}"

    assert set(env) == set(secret_env) == set(SERVICES)
    for service in SERVICES:
        plain, secret = env[service], secret_env[service]
        assert not set(plain) & set(secret), f"{service}: set twice"
        provided = set(plain) | set(secret)
        assert not provided & RESERVED, f"{service}: Cloud Run sets PORT"
        unknown = provided - known
        assert not unknown, f"{service}: {sorted(unknown)} are read by nothing (typo?)"
        for field in COMMON_FIELDS | REQUIRED_FIELDS[service]:
            if field == "port":
                continue  # PORT comes from Cloud Run (container_port above)
            assert names[field] & provided, f"{service} needs {field} ({sorted(names[field])})"
        if service in LLM_SERVICES:
            assert PROVIDER_KEYS <= set(secret), f"{service} needs provider keys as secrets"
        assert plain["HARNESS_SERVICE"] == service
        assert plain["HARNESS_BUS"] == "pubsub"
        assert plain["HARNESS_TOPIC_PREFIX"] == "${var.prefix}"
        assert plain["HARNESS_LOG_JSON"] == "true"
        if "HARNESS_PUSH_AUDIENCE" in plain:
            assert render(plain["HARNESS_PUSH_AUDIENCE"], url_ctx()) == service_url(service)

    # secrets: only the registry and the gateway see the database; every secret name exists
    assert [s for s in SERVICES if "DATABASE_URL" in secret_env[s]] == ["registry", "gateway"]
    secret_names = set(mod("secrets")["locals"]["secrets"])
    for service, secret in secret_env.items():
        assert set(secret.values()) <= secret_names, service
    assert "local.secret_env" in mod("services")["locals"]["secret_readers"]


def test_secret_readers_follow_the_env_maps() -> None:
    reader = res("services", "google_secret_manager_secret_iam_member", "reader")
    assert reader["for_each"] == "${local.secret_readers}"
    assert reader["role"] == "roles/secretmanager.secretAccessor"
    assert reader["member"] == "serviceAccount:${var.service_accounts[each.value.service]}"
    run = res("services", "google_cloud_run_v2_service", "service")
    assert "${google_secret_manager_secret_iam_member.reader}" in run["depends_on"]


# ------------------------------------------------------------------------------ IAM


def test_no_primitive_role_anywhere() -> None:
    roles = set()
    for d in all_dirs():
        for rtype, named in module(d)["resource"].items():
            assert rtype not in {"google_project_iam_policy", "google_project_iam_binding"}, (
                f"{d}: {rtype} replaces grants made outside Terraform")
            for name, body in named.items():
                for s in walk_strings(body):
                    assert s not in PRIMITIVE_ROLES, f"{d.name}: {rtype}.{name} uses {s}"
                if "iam" in rtype and "role" in body:
                    roles.add(body["role"])
    assert roles <= ALLOWED_ROLES, f"unexpected roles: {sorted(roles - ALLOWED_ROLES)}"


def test_prometheus_sidecar_scrapes_every_service_but_the_studio() -> None:
    services = mod("services")
    assert squash(services["locals"]["prometheus"]) == squash(
        '${{for name, s in local.services : name => var.managed_prometheus && name != "studio"}}')
    template = block(res("services", "google_cloud_run_v2_service", "service"), "template")
    sidecar = template["dynamic"][-1]["containers"]
    assert sidecar["for_each"] == "${local.prometheus[each.key] ? [1] : []}"
    assert sidecar["content"][0]["depends_on"] == ["${each.key}"]
    writer = res("iam", "google_project_iam_member", "metric_writer")
    assert writer["role"] == "roles/monitoring.metricWriter"
    assert "studio" in writer["for_each"] and "setsubtract" in writer["for_each"]

    # The sidecar's default RunMonitoring scrapes localhost:8080/metrics with no API key:
    # 8080 is every scraped service's loopback listener, requests come in on another port.
    loc = services["locals"]
    assert loc["metrics_port"] == 8080 and loc["service_port"] != loc["metrics_port"]
    env, _ = service_env()
    for name in SERVICES:
        expected = "${tostring(local.metrics_port)}" if name != "studio" else None
        assert env[name].get("HARNESS_METRICS_PORT") == expected, name


def test_least_privilege_grants() -> None:
    iam = mod("iam")
    publishers = res("iam", "google_pubsub_topic_iam_member", "publisher")
    assert publishers["role"] == "roles/pubsub.publisher"
    assert publishers["for_each"] == "${local.publishers}"
    expected = {"registry-events": {"registry"}, "runs": {"registry"}, "scoring": {"registry"},
                "generation": {"registry"}, "results": {"runner", "scorer", "generator"}}
    assert {k: set(t["publishers"]) for k, t in tf_topics().items()} == expected

    artifact_users = iam["locals"]["artifact_users"]
    assert artifact_users.startswith("${toset([")
    assert set(re.findall(r'"(\w+)"', artifact_users)) == ARTIFACT_USERS
    bucket = res("iam", "google_storage_bucket_iam_member", "artifacts")
    assert bucket["role"] == "roles/storage.objectAdmin"
    assert bucket["bucket"] == "${var.artifacts_bucket}"

    project_grants = iam["resource"]["google_project_iam_member"]
    # cloudsql.client (narrowed by a condition) and monitoring.metricWriter (exists only at
    # project level; write-only) are the project-wide grants
    assert sorted(project_grants) == ["metric_writer", "sql_client"], "unexpected project grant"
    sql = project_grants["sql_client"]
    assert sql["role"] == "roles/cloudsql.client"
    assert set(re.findall(r'"(\w+)"', sql["for_each"])) == {"registry", "gateway"}
    assert "service[each.key]" in sql["member"]
    assert "instances/${var.sql_instance_name}" in block(sql, "condition")["expression"]
    for d in all_dirs():
        grants = module(d)["resource"].get("google_project_iam_member", {})
        assert d.name == "iam" or not grants, f"{d}: project-level grant"


def test_pubsub_service_agent_can_sign_tokens_and_dead_letter() -> None:
    token = res("iam", "google_service_account_iam_member", "pubsub_token_creator")
    assert token["role"] == "roles/iam.serviceAccountTokenCreator"
    assert token["service_account_id"] == "${google_service_account.push.name}"
    assert token["member"] == "serviceAccount:${var.pubsub_service_agent}"
    dl_pub = res("iam", "google_pubsub_topic_iam_member", "dead_letter_publisher")
    assert dl_pub["topic"] == "${each.value.dead_letter_id}"
    assert dl_pub["for_each"] == "${var.topics}"
    assert dl_pub["role"] == "roles/pubsub.publisher"
    dl_sub = res("iam", "google_pubsub_subscription_iam_member", "dead_letter_subscriber")
    assert dl_sub["for_each"] == "${var.source_subscriptions}"
    assert dl_sub["role"] == "roles/pubsub.subscriber"
    outputs = mod("pubsub")["output"]["source_subscriptions"]["value"]
    assert "google_pubsub_subscription.push" in outputs
    agent = mod("project")["output"]["pubsub_service_agent"]["value"]
    assert agent == ("service-${data.google_project.this.number}"
                     "@gcp-sa-pubsub.iam.gserviceaccount.com")


# ----------------------------------------------------------------------- data stores


def test_cloud_sql_is_private_backed_up_and_protected() -> None:
    db = res("sql", "google_sql_database_instance", "main")
    assert db["database_version"] == "POSTGRES_15"
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert mod("sql")["variable"]["deletion_protection"]["default"] is True
    settings = block(db, "settings")
    assert settings["deletion_protection_enabled"] == "${var.deletion_protection}"
    backup = block(settings, "backup_configuration")
    assert backup["enabled"] is True and backup["point_in_time_recovery_enabled"] is True
    ip = block(settings, "ip_configuration")
    assert ip["ipv4_enabled"] is False and ip["private_network"]
    assert ip["ssl_mode"] in {"ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"}
    for env in ENVS:
        call = module(ROOT / "envs" / env)["module"]["platform"]
        assert call["sql_deletion_protection"] is True, env
    assert "google_sql_database" in mod("sql")["resource"]
    assert "google_sql_user" in mod("sql")["resource"]


def test_the_database_password_never_reaches_an_output() -> None:
    version = res("sql", "google_secret_manager_secret_version", "database_url")
    assert "${random_password.db.result}" in version["secret_data"]
    assert "host=/cloudsql/" in version["secret_data"]
    for d in all_dirs():
        for name, out in module(d)["output"].items():
            value = out["value"] if isinstance(out["value"], str) else str(out["value"])
            value = re.sub(r"sha256\([^()]*\)", "<digest>", value)  # a hash reveals nothing
            for leak in ("random_password", ".result", "password", "secret_data"):
                assert leak not in value, f"{d}: output {name} exposes {leak}"
            assert out.get("sensitive") is not True, f"{d}: output {name} hides something"


def test_artifacts_bucket_is_private_versioned_with_lifecycle() -> None:
    bucket = res("storage", "google_storage_bucket", "artifacts")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert block(bucket, "versioning")["enabled"] is True
    actions = [block(r, "action")["type"] for r in bucket["lifecycle_rule"]]
    assert "Delete" in actions and "SetStorageClass" in actions


# ----------------------------------------------------------------- layout, monitoring


def test_environments_pin_providers_and_keep_state_in_gcs() -> None:
    for env in ENVS:
        d = ROOT / "envs" / env
        for f in ("main.tf", "variables.tf", "backend.tf", "versions.tf",
                  "terraform.tfvars.example"):
            assert (d / f).is_file(), f"envs/{env}/{f}"
        terraform = module(d)["terraform"]
        backends = [b["backend"] for b in terraform if "backend" in b]
        assert backends and "gcs" in backends[0][0], env
        providers = next(b["required_providers"] for b in terraform if "required_providers" in b)
        providers = providers[0] if isinstance(providers, list) else providers
        for name in ("google", "google-beta", "random"):
            assert re.match(r"^(~>|=)\s*\d+\.\d+", providers[name]["version"]), (env, name)
        assert module(d)["module"]["platform"]["source"] == "../../modules/platform"
    for name in ("network", "sql", "pubsub", "storage", "services", "iam", "secrets",
                 "monitoring"):
        assert (MODULES / name / "main.tf").is_file(), name


def test_alerts_on_dead_letters_5xx_and_budget() -> None:
    dead = block(res("monitoring", "google_monitoring_alert_policy", "dead_letters"),
                 "conditions")["condition_threshold"][0]
    assert "subscription/num_undelivered_messages" in dead["filter"]
    assert "-dead-letter" in dead["filter"]
    assert dead["comparison"] == "COMPARISON_GT" and dead["threshold_value"] == 0
    errors = block(res("monitoring", "google_monitoring_alert_policy", "errors_5xx"),
                   "conditions")["condition_threshold"][0]
    assert 'response_code_class = "5xx"' in errors["filter"]
    budget = res("monitoring", "google_billing_budget", "monthly")
    assert budget["billing_account"] == "${var.billing_account}"
