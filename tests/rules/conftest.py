"""A rule tested here must hold without a database: asking for one fails the test, so a test that needs
one goes to the package it tests instead of slowing this layer down."""

from typing import NoReturn

import pytest


@pytest.fixture(scope="session")
def database_url() -> NoReturn:
    """Every fixture that reaches a database (settings, runtime, client, tenant) starts from this one."""
    pytest.fail("tests/rules are pure: a test that needs a database belongs beside the package it tests")
