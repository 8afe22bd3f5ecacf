"""Fixtures shared by the tests that run the project against the twin."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from platform_harness import Twin  # noqa: E402
from platform_harness import free_port  # noqa: E402


@pytest.fixture(scope="session")
def twin():
    """The twin's AWS control plane on a port of its own (not the demo's 5000)."""
    t = Twin(int(os.environ.get("TEST_TWIN_AWS_PORT", "5077")))
    t.up()
    yield t
    t.down()


@pytest.fixture(scope="module")
def own_twin(tmp_path_factory):
    """A twin for one test module: a free port, its state in a temporary directory (twinctl up/down)."""
    t = Twin(free_port(), state_dir=tmp_path_factory.mktemp("twin-state"))
    up = t.ctl("up", timeout=90)
    if up.returncode != 0 or "started" not in up.stdout:
        pytest.fail(f"twin/twinctl up failed (rc={up.returncode}):\n{up.stdout}\n{up.stderr}")
    try:
        yield t
    finally:
        down = t.ctl("down", timeout=90)
        assert down.returncode == 0, down.stdout + down.stderr
