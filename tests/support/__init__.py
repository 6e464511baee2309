"""Test helpers shared by the test suites (stub servers, fixtures)."""
