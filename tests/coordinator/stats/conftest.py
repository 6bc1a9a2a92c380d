"""The workflow tests' migrated database (SQLite and PostgreSQL, Ningxia tree) and case world."""

from tests.workflow.conftest import engine  # noqa: F401  (fixture)
