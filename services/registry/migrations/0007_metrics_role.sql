-- A key with the role 'metrics' may only read /metrics (a Prometheus scraper's key).
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('metrics', 'viewer', 'editor', 'approver', 'admin'));
