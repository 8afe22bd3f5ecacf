# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform's gcp_http module utils: GcpJsonClient's GET/DELETE and
Compute Engine operation waiter, and operation errors (POST and the HTTP error parsing are also
covered through gcp_project_iam_member's tests)."""

from __future__ import annotations

import pytest

from ansible_collections.google.cloud.plugins.module_utils import gcp_utils
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils import gcp_http
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.gcp_http import GcpApiError
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils.gcp_http import GcpJsonClient
from gcp_fakes import FakeResponse  # tests/unit/gcp_fakes.py, on sys.path through tests/unit/conftest.py

OP_URL = "https://www.googleapis.com/compute/v1/projects/p-123456/zones/us-central1-a/operations/operation-1"
URL = "https://compute.googleapis.com/compute/v1/projects/p-123456/zones/us-central1-a/instances/vm"


class ScriptedSession:
    """Answers each request with the next scripted response (or raises it, if an exception)."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests = []

    def _next(self, method, url, kwargs):
        self.requests.append((method, url, kwargs))
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return FakeResponse(*response)

    def get(self, url, **kwargs):
        return self._next("GET", url, kwargs)

    def post(self, url, **kwargs):
        return self._next("POST", url, kwargs)

    def delete(self, url, **kwargs):
        return self._next("DELETE", url, kwargs)


class FakeModule:
    def __init__(self):
        self.params = {
            "auth_kind": "accesstoken",
            "access_token": "secret-token",
            "env_type": None,
            "service_account_email": None,
            "service_account_file": None,
            "service_account_contents": None,
            "scopes": None,
        }

    def fail_json(self, **kwargs):  # pragma: no cover - not reached in these tests
        raise AssertionError(kwargs)


@pytest.fixture(autouse=True)
def _libraries(monkeypatch):
    monkeypatch.setattr(gcp_utils, "HAS_GOOGLE_LIBRARIES", True)
    monkeypatch.setattr(gcp_utils, "HAS_REQUESTS", True)


@pytest.fixture
def clock(monkeypatch):
    """A fake clock: sleep advances it; the sleeps are recorded."""
    state = {"now": 500.0, "sleeps": []}

    def sleep(seconds):
        state["sleeps"].append(seconds)
        state["now"] += seconds

    monkeypatch.setattr(gcp_http.time, "monotonic", lambda: state["now"])
    monkeypatch.setattr(gcp_http.time, "sleep", sleep)
    return state


def client_with(*responses):
    client = GcpJsonClient(FakeModule(), "compute")
    session = ScriptedSession(*responses)
    client._session = session
    return client, session


def operation(status="RUNNING", **extra):
    op = {
        "kind": "compute#operation",
        "name": "operation-1",
        "operationType": "insert",
        "status": status,
        "targetLink": URL,
        "selfLink": OP_URL,
    }
    op.update(extra)
    return op


# ---------------------------------------------------------------------------
# get / delete / post
# ---------------------------------------------------------------------------


def test_get_returns_the_object_with_headers_and_timeout():
    client, session = client_with((200, {"name": "vm"}))
    assert client.get(URL) == {"name": "vm"}
    ((method, url, kwargs),) = session.requests
    assert (method, url) == ("GET", URL)
    assert kwargs["headers"]["User-Agent"] == "Google-Ansible-MM-compute"
    assert "Content-Type" not in kwargs["headers"]
    assert kwargs["timeout"] == gcp_http.DEFAULT_TIMEOUT
    assert "json" not in kwargs and "params" not in kwargs


def test_get_missing_returns_none_only_when_asked():
    not_found = (404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "The resource 'x' was not found"}})
    client, _ = client_with(not_found, not_found)
    assert client.get(URL, allow_missing=True) is None
    with pytest.raises(GcpApiError) as e:
        client.get(URL)
    assert e.value.describe() == "HTTP 404 NOT_FOUND: The resource 'x' was not found"


def test_get_other_errors_are_raised_even_with_allow_missing():
    client, _ = client_with((403, {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "denied"}}))
    with pytest.raises(GcpApiError) as e:
        client.get(URL, allow_missing=True)
    assert e.value.http_status == 403


def test_delete_and_post_with_params():
    client, session = client_with((200, operation()), (200, operation()))
    assert client.delete(URL)["name"] == "operation-1"
    client.post(URL + "/setDeletionProtection", params={"deletionProtection": "true"})
    (m1, _u1, k1), (m2, u2, k2) = session.requests
    assert m1 == "DELETE" and "json" not in k1
    assert m2 == "POST" and k2["params"] == {"deletionProtection": "true"} and k2["json"] is None
    assert k2["headers"]["Content-Type"] == "application/json"


def test_non_object_response_is_an_error():
    client, _ = client_with((200, "[1, 2]"))
    with pytest.raises(GcpApiError) as e:
        client.get(URL)
    assert "is not a JSON object" in e.value.message


def test_transport_error_keeps_its_message():
    client, _ = client_with(ConnectionError("Connection refused"))
    with pytest.raises(GcpApiError) as e:
        client.get(URL)
    assert e.value.describe() == "request failed: ConnectionError: Connection refused"


# ---------------------------------------------------------------------------
# wait_operation
# ---------------------------------------------------------------------------


def test_wait_returns_a_done_operation_without_polling(clock):
    client, session = client_with()
    done = operation("DONE")
    assert client.wait_operation(done, 60) == done
    assert not session.requests
    assert not clock["sleeps"]


def test_wait_polls_self_link_until_done_with_growing_delays(clock):
    client, session = client_with((200, operation("PENDING")), (200, operation("RUNNING")), (200, operation("DONE")))
    result = client.wait_operation(operation("RUNNING"), 60)
    assert result["status"] == "DONE"
    assert [(m, u) for m, u, _k in session.requests] == [("GET", OP_URL)] * 3
    assert clock["sleeps"] == [1.0, 1.5, 2.25]


def test_wait_polls_the_given_url(clock):
    client, session = client_with((200, operation("DONE")))
    client.wait_operation(operation(selfLink=None), 60, url="https://example.test/op")
    assert session.requests[0][1] == "https://example.test/op"


def test_wait_delay_is_capped(clock):
    responses = [(200, operation("RUNNING"))] * 12 + [(200, operation("DONE"))]
    client, _ = client_with(*responses)
    client.wait_operation(operation(), 3600)
    assert max(clock["sleeps"]) == gcp_http.POLL_MAX


def test_wait_timeout(clock):
    client, session = client_with(*[(200, operation("RUNNING"))] * 50)
    with pytest.raises(GcpApiError) as e:
        client.wait_operation(operation(), 20)
    assert e.value.status == "TIMEOUT"
    assert (
        "timed out after 20s waiting for operation operation-1 (insert of " + URL + "), still RUNNING"
        in e.value.message
    )
    assert clock["now"] == pytest.approx(520.0), "the last sleep stops at the deadline"
    assert len(session.requests) == len(clock["sleeps"])


def test_operation_error_raised_with_its_messages(clock):
    failed = operation(
        "DONE",
        httpErrorStatusCode=403,
        httpErrorMessage="FORBIDDEN",
        error={
            "errors": [
                {
                    "code": "QUOTA_EXCEEDED",
                    "message": "Quota 'NVIDIA_A100_GPUS' exceeded.  Limit: 0.0 in region us-central1.",
                },
            ]
        },
    )
    client, _ = client_with((200, failed))
    with pytest.raises(GcpApiError) as e:
        client.wait_operation(operation(), 60)
    assert e.value.describe() == (
        "HTTP 403 QUOTA_EXCEEDED: Quota 'NVIDIA_A100_GPUS' exceeded.  Limit: 0.0 in region us-central1."
    )
    assert e.value.details == failed["error"]["errors"]


def test_operation_with_several_errors_lists_them_all(clock):
    done = operation(
        "DONE",
        error={
            "errors": [
                {"code": "RESOURCE_NOT_FOUND", "message": "The resource 'disks/data' was not found"},
                {"code": "INVALID_FIELD_VALUE", "message": "Invalid value for field 'resource.disks[1]'"},
            ]
        },
    )
    client, _ = client_with()
    with pytest.raises(GcpApiError) as e:
        client.wait_operation(done, 60)
    assert e.value.status == "RESOURCE_NOT_FOUND"
    assert e.value.http_status is None
    assert e.value.message == (
        "RESOURCE_NOT_FOUND: The resource 'disks/data' was not found; "
        "INVALID_FIELD_VALUE: Invalid value for field 'resource.disks[1]'"
    )


def test_transient_poll_errors_are_retried(clock):
    unavailable = (503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "try again"}})
    client, session = client_with(unavailable, ConnectionError("reset"), (200, operation("DONE")))
    assert client.wait_operation(operation(), 60)["status"] == "DONE"
    assert len(session.requests) == 3


def test_persistent_poll_errors_give_up(clock):
    unavailable = (503, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "backend down"}})
    client, session = client_with(*[unavailable] * gcp_http.POLL_TRANSIENT_ERRORS)
    with pytest.raises(GcpApiError) as e:
        client.wait_operation(operation(), 600)
    assert len(session.requests) == gcp_http.POLL_TRANSIENT_ERRORS
    assert e.value.describe() == "HTTP 503 UNAVAILABLE: polling operation operation-1: backend down"


def test_permanent_poll_error_is_not_retried(clock):
    denied = (
        403,
        {"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "Required 'compute.zoneOperations.get'"}},
    )
    client, session = client_with(denied)
    with pytest.raises(GcpApiError) as e:
        client.wait_operation(operation(), 60)
    assert len(session.requests) == 1
    assert "compute.zoneOperations.get" in e.value.message


def test_operation_error_helper_without_errors_list():
    error = gcp_http.operation_error(
        {"status": "DONE", "httpErrorStatusCode": "500", "httpErrorMessage": "INTERNAL", "error": {"code": "x"}}
    )
    assert error.describe() == "HTTP 500: INTERNAL"
    assert gcp_http.operation_error({"status": "DONE"}) is None
