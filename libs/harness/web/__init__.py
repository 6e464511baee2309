"""Web plumbing every service's FastAPI app shares: problem+json errors (``problems``),
the correlation id (``correlation``), API-key authentication (``auth``), the errors named
in the OpenAPI document (``openapi_errors``), offline API docs (``api_docs``), the
checks for input no column can hold (``input_guard``) and the base of request bodies
(``bodies``: unknown fields are refused)."""
