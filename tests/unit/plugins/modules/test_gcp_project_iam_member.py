# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform.gcp_project_iam_member.

No network: google.cloud's GcpSession.session() (which would build google-auth credentials and an
AuthorizedSession) is replaced by FakeSession, an in-memory Cloud Resource Manager that serves
getIamPolicy/setIamPolicy with etags, and records every request.
"""

from __future__ import annotations

import copy
from unittest.mock import patch

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.google.cloud.plugins.module_utils import gcp_utils
from ansible_collections.mlinfra.gpu_platform.plugins.module_utils import gcp_http
from ansible_collections.mlinfra.gpu_platform.plugins.modules import gcp_project_iam_member as mod

import module_harness
from gcp_fakes import FakeResponse  # tests/unit/gcp_fakes.py, on sys.path through tests/unit/conftest.py

PROJECT = "my-ml-project"
BASE = f"https://cloudresourcemanager.googleapis.com/v1/projects/{PROJECT}"
GET_URL = BASE + ":getIamPolicy"
SET_URL = BASE + ":setIamPolicy"
ROLE = "roles/storage.objectAdmin"
SA = f"serviceAccount:gpu-trainer@{PROJECT}.iam.gserviceaccount.com"
OTHER_SA = f"serviceAccount:other@{PROJECT}.iam.gserviceaccount.com"
ALICE = "user:alice@example.com"
AUTH = {"auth_kind": "accesstoken", "access_token": "fake-token"}
CONDITION = {"title": "until-2027", "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")'}


class FakeSession:
    """getIamPolicy/setIamPolicy of one project; `errors` maps 'get'/'set' to queued (status, body)."""

    def __init__(self, policy):
        self.policy = copy.deepcopy(policy)
        self.etag_n = 1
        self.policy["etag"] = self._etag()
        self.requests = []
        self.errors = {"get": [], "set": []}
        self.before_set = None  # callable run before a setIamPolicy is answered (concurrent writer)

    def _etag(self):
        return f"BwEtag{self.etag_n:04d}="

    def post(self, url, json=None, headers=None, timeout=None):
        self.requests.append({"url": url, "body": copy.deepcopy(json), "headers": headers, "timeout": timeout})
        if url == GET_URL:
            if self.errors["get"]:
                return FakeResponse(*self.errors["get"].pop(0))
            assert json == {"options": {"requestedPolicyVersion": 3}}
            return FakeResponse(200, self.policy)
        if url == SET_URL:
            if self.before_set:
                hook, self.before_set = self.before_set, None
                hook(self)
            if self.errors["set"]:
                return FakeResponse(*self.errors["set"].pop(0))
            policy = json["policy"]
            if policy.get("etag") != self.policy["etag"]:
                return FakeResponse(409, {"error": {"code": 409, "status": "ABORTED", "message":
                                                    "There were concurrent policy changes. Please retry the whole "
                                                    "read-modify-write with exponential backoff."}})
            self.etag_n += 1
            self.policy = copy.deepcopy(policy)
            self.policy["etag"] = self._etag()
            return FakeResponse(200, self.policy)
        raise AssertionError(f"unexpected request to {url}")

    def calls(self, url):
        return [r for r in self.requests if r["url"] == url]

    def concurrent_change(self, change):
        """A writer that changes the policy (new etag) just before our setIamPolicy arrives."""

        def hook(session):
            change(session.policy)
            session.etag_n += 1
            session.policy["etag"] = session._etag()

        self.before_set = hook


def base_policy():
    return {
        "version": 1,
        "bindings": [
            {"role": "roles/owner", "members": ["user:owner@example.com"]},
            {"role": ROLE, "members": [OTHER_SA, ALICE]},
            {"role": "roles/viewer", "members": ["group:ml-team@example.com", "domain:example.com"]},
        ],
        "auditConfigs": [{"service": "allServices", "auditLogConfigs": [{"logType": "DATA_READ"}]}],
    }


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    module_harness.no_sleep(monkeypatch, mod)


@pytest.fixture(autouse=True)
def _libraries(monkeypatch):
    """google-auth need not be installed: the session that would use it is faked."""
    monkeypatch.setattr(gcp_utils, "HAS_GOOGLE_LIBRARIES", True)
    monkeypatch.setattr(gcp_utils, "HAS_REQUESTS", True)


def run(session, check_mode=False, diff=True, **args):
    module_args = dict(AUTH, project=PROJECT, role=ROLE, member=SA)
    module_args.update(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff

    def _session(self):
        if session is None:
            raise AssertionError("no request may be sent")
        return session

    with patch_module_args(module_args), patch.multiple(
        "ansible.module_utils.basic.AnsibleModule",
        exit_json=module_harness._exit_json,
        fail_json=module_harness._fail_json,
    ), patch.object(gcp_utils.GcpSession, "session", _session):
        try:
            mod.main()
        except module_harness.ExitJson as e:
            return e.result, False
        except module_harness.FailJson as e:
            return e.result, True
    raise AssertionError("module neither exited nor failed")  # pragma: no cover


def bindings_except(policy, role, condition=None):
    return [b for b in policy["bindings"] if not (b["role"] == role and b.get("condition") == condition)]


# ---------------------------------------------------------------------------
# present
# ---------------------------------------------------------------------------


def test_adds_member_to_existing_binding_keeping_everything_else():
    session = FakeSession(base_policy())
    before = copy.deepcopy(session.policy)
    result, failed = run(session)
    assert not failed, result
    assert result["changed"] is True
    assert result["binding"] == {"role": ROLE, "members": sorted([OTHER_SA, ALICE, SA])}
    assert result["etag"] == "BwEtag0002="

    (set_call,) = session.calls(SET_URL)
    assert set_call["body"]["updateMask"] == "bindings,etag"
    sent = set_call["body"]["policy"]
    assert sent["etag"] == "BwEtag0001=", "the write carries the etag that was read"
    assert sent["auditConfigs"] == before["auditConfigs"]
    assert bindings_except(sent, ROLE) == bindings_except(before, ROLE)
    (ours,) = [b for b in sent["bindings"] if b["role"] == ROLE]
    assert ours["members"] == [OTHER_SA, ALICE, SA], "existing members untouched, in their order"
    assert sent["version"] == 1
    # google.cloud's User-Agent, and a timeout
    assert set_call["headers"]["User-Agent"] == "Google-Ansible-MM-cloudresourcemanager"
    assert set_call["timeout"]


def test_creates_binding_when_role_not_bound():
    policy = base_policy()
    policy["bindings"] = [b for b in policy["bindings"] if b["role"] != ROLE]
    session = FakeSession(policy)
    result, failed = run(session)
    assert not failed, result
    assert result["changed"] is True
    assert session.policy["bindings"][-1] == {"role": ROLE, "members": [SA]}
    assert result["diff"] == {"before": {"role": ROLE, "members": []}, "after": {"role": ROLE, "members": [SA]}}


def test_second_run_is_idempotent():
    session = FakeSession(base_policy())
    first, _ = run(session)
    assert first["changed"] is True
    second, failed = run(session)
    assert not failed
    assert second["changed"] is False
    assert len(session.calls(SET_URL)) == 1, "the second run wrote nothing"
    assert second["etag"] == first["etag"]
    assert second["diff"]["before"] == second["diff"]["after"]


def test_member_email_compared_case_insensitively():
    session = FakeSession(base_policy())
    result, failed = run(session, member="user:Alice@Example.com")
    assert not failed
    assert result["changed"] is False
    assert not session.calls(SET_URL)


def test_diff_shows_only_our_binding():
    session = FakeSession(base_policy())
    result, _ = run(session)
    assert result["diff"] == {
        "before": {"role": ROLE, "members": sorted([OTHER_SA, ALICE])},
        "after": {"role": ROLE, "members": sorted([OTHER_SA, ALICE, SA])},
    }


def test_no_diff_without_diff_mode():
    result, _ = run(FakeSession(base_policy()), diff=False)
    assert "diff" not in result
    assert result["changed"] is True


# ---------------------------------------------------------------------------
# absent
# ---------------------------------------------------------------------------


def test_absent_removes_only_our_member():
    policy = base_policy()
    policy["bindings"][1]["members"].append(SA)
    session = FakeSession(policy)
    before = copy.deepcopy(session.policy)
    result, failed = run(session, state="absent")
    assert not failed, result
    assert result["changed"] is True
    assert result["binding"] == {"role": ROLE, "members": sorted([OTHER_SA, ALICE])}
    sent = session.calls(SET_URL)[0]["body"]["policy"]
    assert bindings_except(sent, ROLE) == bindings_except(before, ROLE)
    assert [b["members"] for b in sent["bindings"] if b["role"] == ROLE] == [[OTHER_SA, ALICE]]


def test_absent_drops_empty_binding():
    policy = base_policy()
    policy["bindings"].append({"role": "roles/compute.admin", "members": [SA]})
    session = FakeSession(policy)
    result, failed = run(session, state="absent", role="roles/compute.admin")
    assert not failed, result
    assert result["changed"] is True
    assert result["binding"] == {"role": "roles/compute.admin", "members": []}
    sent = session.calls(SET_URL)[0]["body"]["policy"]
    assert all(b["role"] != "roles/compute.admin" for b in sent["bindings"])
    assert sent["bindings"] == base_policy()["bindings"]
    assert result["diff"]["before"]["members"] == [SA]
    assert result["diff"]["after"]["members"] == []


def test_absent_when_not_a_member_is_a_no_op():
    session = FakeSession(base_policy())
    result, failed = run(session, state="absent")
    assert not failed
    assert result["changed"] is False
    assert not session.calls(SET_URL)


def test_absent_can_remove_a_deleted_principal():
    deleted = f"deleted:{SA}?uid=123456789012345678901"
    policy = base_policy()
    policy["bindings"][1]["members"].append(deleted)
    session = FakeSession(policy)
    result, failed = run(session, state="absent", member=deleted)
    assert not failed, result
    assert result["changed"] is True
    assert deleted not in session.policy["bindings"][1]["members"]


# ---------------------------------------------------------------------------
# check mode
# ---------------------------------------------------------------------------


def test_check_mode_reads_only_and_reports_the_change():
    session = FakeSession(base_policy())
    before = copy.deepcopy(session.policy)
    result, failed = run(session, check_mode=True)
    assert not failed
    assert result["changed"] is True
    assert SA in result["binding"]["members"]
    assert result["etag"] == "BwEtag0001="
    assert not session.calls(SET_URL), "check mode sends no setIamPolicy"
    assert len(session.calls(GET_URL)) == 1
    assert session.policy == before


def test_check_mode_absent_reports_dropped_binding():
    policy = base_policy()
    policy["bindings"].append({"role": "roles/compute.admin", "members": [SA]})
    session = FakeSession(policy)
    result, _ = run(session, check_mode=True, state="absent", role="roles/compute.admin")
    assert result["changed"] is True
    assert result["binding"]["members"] == []
    assert not session.calls(SET_URL)


# ---------------------------------------------------------------------------
# etag conflicts
# ---------------------------------------------------------------------------


def test_etag_conflict_is_retried_on_the_fresh_policy():
    session = FakeSession(base_policy())
    # Someone else adds a binding between our read and our write.
    session.concurrent_change(lambda p: p["bindings"].append({"role": "roles/logging.viewer", "members": [ALICE]}))
    result, failed = run(session)
    assert not failed, result
    assert result["changed"] is True
    assert result["attempts"] == 2
    assert len(session.calls(GET_URL)) == 2
    assert len(session.calls(SET_URL)) == 2
    final = session.policy
    assert {"role": "roles/logging.viewer", "members": [ALICE]} in final["bindings"], "their change survived"
    assert SA in [b for b in final["bindings"] if b["role"] == ROLE][0]["members"]
    assert session.calls(SET_URL)[1]["body"]["policy"]["etag"] == "BwEtag0002="


def test_etag_conflict_gives_up_after_max_attempts():
    session = FakeSession(base_policy())
    conflict = (409, {"error": {"code": 409, "status": "ABORTED", "message": "There were concurrent policy changes."}})
    session.errors["set"] = [conflict] * mod.MAX_ATTEMPTS
    result, failed = run(session)
    assert failed
    assert len(session.calls(SET_URL)) == mod.MAX_ATTEMPTS
    assert "There were concurrent policy changes." in result["msg"]
    assert f"gave up after {mod.MAX_ATTEMPTS} attempts" in result["msg"]


# ---------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------


def test_server_error_message_is_surfaced_verbatim():
    session = FakeSession(base_policy())
    session.errors["get"] = [(403, {"error": {"code": 403, "message": "Permission denied on resource project x",
                                              "status": "PERMISSION_DENIED"}})]
    result, failed = run(session)
    assert failed
    assert "Permission denied on resource project x" in result["msg"]
    assert "HTTP 403 PERMISSION_DENIED" in result["msg"]
    assert "getIamPolicy" in result["msg"]
    assert result["error"]["message"] == "Permission denied on resource project x"
    assert result["error"]["status"] == "PERMISSION_DENIED"
    assert result["error"]["http_status"] == 403
    assert not session.calls(SET_URL)


def test_set_error_is_not_retried_unless_conflict():
    session = FakeSession(base_policy())
    session.errors["set"] = [(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                              "message": "Role roles/storage.objectAdmin is not supported for this resource."}})]
    result, failed = run(session)
    assert failed
    assert len(session.calls(SET_URL)) == 1
    assert result["msg"].endswith("HTTP 400 INVALID_ARGUMENT: Role roles/storage.objectAdmin is not supported for this resource.")
    assert "setIamPolicy" in result["msg"]


def test_non_json_error_body_is_reported():
    session = FakeSession(base_policy())
    session.errors["get"] = [(502, "<html>Bad Gateway</html>")]
    result, failed = run(session)
    assert failed
    assert "HTTP 502: <html>Bad Gateway</html>" in result["msg"]


def test_transport_error_message_is_kept():
    class Broken:
        def post(self, *args, **kwargs):
            raise ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")

    result, failed = run(Broken())
    assert failed
    assert "Connection refused" in result["msg"]
    assert "has no attribute 'message'" not in result["msg"]


# ---------------------------------------------------------------------------
# validation before any request
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member, message",
    [
        ("gpu-trainer@my-ml-project.iam.gserviceaccount.com", "must start with one of user:, serviceAccount:"),
        ("svc:gpu-trainer@example.com", "must start with one of"),
        ("serviceAccount:not-an-email", "must be serviceAccount:EMAIL"),
        ("user:", "must be user:EMAIL"),
        ("domain:not a domain", "must not contain white space"),
        ("allUsers", "cannot be bound in a project's IAM policy"),
        ("principal://", "must name the principal"),
        (f"deleted:{SA}?uid=1", "can only be removed (state=absent)"),
    ],
)
def test_bad_member_rejected_before_any_request(member, message):
    result, failed = run(None, member=member)
    assert failed
    assert message in result["msg"]


@pytest.mark.parametrize(
    "member",
    [
        ALICE,
        "group:ml-team@example.com",
        "domain:example.com",
        "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/subject/s",
        "principalSet://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/*",
    ],
)
def test_good_member_prefixes_accepted(member):
    result, failed = run(FakeSession(base_policy()), member=member)
    assert not failed, result


@pytest.mark.parametrize(
    "args, message",
    [
        ({"role": "storage.objectAdmin"}, "must be roles/NAME"),
        ({"project": "My_Project"}, "is not a project ID"),
        ({"condition": {"title": "t", "expression": " "}}, "condition.expression must not be empty"),
    ],
)
def test_bad_parameters_rejected_before_any_request(args, message):
    result, failed = run(None, **args)
    assert failed
    assert message in result["msg"]


def test_project_is_required(monkeypatch):
    monkeypatch.delenv("GCP_PROJECT", raising=False)
    result, failed = run(None, project=None)
    assert failed
    assert "project is required" in result["msg"]


def test_missing_google_auth_is_reported(monkeypatch):
    monkeypatch.setattr(gcp_utils, "HAS_GOOGLE_LIBRARIES", False)
    result, failed = run(None)
    assert failed
    assert "google-auth" in result["msg"]


def test_auth_options_validated_like_google_cloud():
    result, failed = run(None, auth_kind="application", access_token="tok")
    assert failed
    assert "Supplying access_token requires auth_kind set to accesstoken" in result["msg"]


# ---------------------------------------------------------------------------
# conditions
# ---------------------------------------------------------------------------


def test_condition_creates_conditional_binding_and_policy_version_3():
    session = FakeSession(base_policy())
    result, failed = run(session, condition=dict(CONDITION))
    assert not failed, result
    assert result["changed"] is True
    sent = session.calls(SET_URL)[0]["body"]["policy"]
    assert sent["version"] == 3
    assert {"role": ROLE, "members": [SA], "condition": CONDITION} in sent["bindings"]
    # the unconditional binding of the same role is a different binding, untouched
    assert {"role": ROLE, "members": [OTHER_SA, ALICE]} in sent["bindings"]
    assert result["binding"] == {"role": ROLE, "members": [SA], "condition": CONDITION}
    assert result["policy_version"] == 3


def test_condition_idempotent_and_matched_on_all_fields():
    session = FakeSession(base_policy())
    run(session, condition=dict(CONDITION))
    again, _ = run(session, condition=dict(CONDITION))
    assert again["changed"] is False
    other, _ = run(session, condition=dict(CONDITION, description="another"), check_mode=True)
    assert other["changed"] is True, "a different description is a different binding"


def test_existing_conditional_binding_keeps_version_3_when_adding_unconditional_member():
    policy = base_policy()
    policy["version"] = 3
    policy["bindings"].append({"role": "roles/compute.viewer", "members": [ALICE], "condition": CONDITION})
    session = FakeSession(policy)
    result, failed = run(session)
    assert not failed
    sent = session.calls(SET_URL)[0]["body"]["policy"]
    assert sent["version"] == 3, "a policy with conditions must be written as version 3"
    assert {"role": "roles/compute.viewer", "members": [ALICE], "condition": CONDITION} in sent["bindings"]


def test_absent_with_condition_removes_only_the_conditional_membership():
    policy = base_policy()
    policy["version"] = 3
    policy["bindings"][1]["members"].append(SA)
    policy["bindings"].append({"role": ROLE, "members": [SA], "condition": CONDITION})
    session = FakeSession(policy)
    result, failed = run(session, state="absent", condition=dict(CONDITION))
    assert not failed
    sent = session.calls(SET_URL)[0]["body"]["policy"]
    assert all(b.get("condition") is None for b in sent["bindings"])
    assert SA in [b for b in sent["bindings"] if b["role"] == ROLE][0]["members"]


# ---------------------------------------------------------------------------
# pure helpers
# ---------------------------------------------------------------------------


def test_apply_change_does_not_mutate_the_policy_read():
    policy = base_policy()
    snapshot = copy.deepcopy(policy)
    changed, new_policy = mod.apply_change(policy, ROLE, SA, None, "present")
    assert changed
    assert policy == snapshot
    assert new_policy is not policy


def test_error_from_response_oauth_style():
    error = gcp_http.error_from_response(FakeResponse(401, {"error": "invalid_grant",
                                                            "error_description": "Token has been expired or revoked."}))
    assert error.describe() == "HTTP 401 invalid_grant: Token has been expired or revoked."
