"""Fixtures shared by the tests that run the project against the twin."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from platform_harness import Twin  # noqa: E402


@pytest.fixture(scope="session")
def twin():
    """The twin's AWS control plane on a port of its own (not the demo's 5000)."""
    t = Twin(int(os.environ.get("TEST_TWIN_AWS_PORT", "5077")))
    t.up()
    yield t
    t.down()
