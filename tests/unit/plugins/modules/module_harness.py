# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process with patched arguments and a MagicMock boto3 client.

Shared by the module unit tests of this directory (pytest puts it on sys.path: the
directory has no __init__.py). exit_json/fail_json raise ExitJson/FailJson, which
run_module() turns into (result dict, failed flag).
"""

from __future__ import annotations

from unittest.mock import patch

from ansible.module_utils.testing import patch_module_args

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper


class ExitJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs.get("msg", "exit_json"))
        self.result = kwargs


class FailJson(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs.get("msg", "fail_json"))
        self.result = kwargs


def _exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise ExitJson(kwargs)


def _fail_json(self, **kwargs):
    kwargs["failed"] = True
    raise FailJson(kwargs)


def no_sleep(monkeypatch, module) -> None:
    """Make the module's time.sleep a no-op (for an autouse fixture)."""
    monkeypatch.setattr(module.time, "sleep", lambda _s: None)


def run_module(module, service, client, args, check_mode=False, diff=True):
    """Run module.main() with `args`, AnsibleAWSModule.client(service) returning `client`
    (wrapped like the real one in a RetryingBotoClientWrapper); returns (result dict, failed flag)."""
    module_args = dict(args)
    module_args["_ansible_check_mode"] = check_mode
    module_args["_ansible_diff"] = diff
    seen_decorators = []

    def _client(self, requested, retry_decorator=None, **kwargs):
        assert requested == service
        seen_decorators.append(retry_decorator)
        return RetryingBotoClientWrapper(client, retry_decorator)

    with patch_module_args(module_args), patch.multiple(
        "ansible.module_utils.basic.AnsibleModule", exit_json=_exit_json, fail_json=_fail_json
    ), patch.object(module.AnsibleAWSModule, "client", _client):
        try:
            module.main()
        except ExitJson as e:
            result, failed = e.result, False
        except FailJson as e:
            result, failed = e.result, True
        else:  # pragma: no cover
            raise AssertionError("module neither exited nor failed")
    # Every run that got as far as connecting must have asked for a retrying client.
    assert all(d is not None for d in seen_decorators)
    return result, failed


def assert_no_writes(client, write_calls) -> None:
    for name in write_calls:
        getattr(client, name).assert_not_called()
