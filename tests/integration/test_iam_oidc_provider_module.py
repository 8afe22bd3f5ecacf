# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Functional check of mlinfra.gpu_platform.iam_oidc_provider against the twin's AWS emulator.

Starts the twin (``twin/twinctl up``) on a free loopback port with its state in a temporary
directory, runs the module through the ``ansible`` ad-hoc CLI from the repository root and reads
the provider back with boto3 (GetOpenIDConnectProvider, ListOpenIDConnectProviderTags) after
every step. The issuer URLs are never contacted: every run passes explicit thumbprints.

moto 5.2.5 does not implement AddClientIDToOpenIDConnectProvider and
RemoveClientIDFromOpenIDConnectProvider: the twin patches them (patch_iam_oidc_client_ids).

Run: cd /work/main && .venv/bin/python -m pytest tests/integration/test_iam_oidc_provider_module.py -q
"""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest

import platform_harness

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from botocore.parsers import ResponseParserError  # noqa: E402

MODULE = "mlinfra.gpu_platform.iam_oidc_provider"
ISSUER_PREFIX = "https://oidc.eks.us-west-2.amazonaws.com/id/"
TP1 = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
TP2 = "6938fd4d98bab03faadb97b34396831e3780aea1"
TP3 = "a031c46782e6e6c662c2c87c76da9aa62ccabd8e"
STS = "sts.amazonaws.com"


@pytest.fixture(scope="module")
def endpoint(own_twin):
    return own_twin.url


@pytest.fixture(scope="module")
def iam(own_twin):
    return own_twin.client("iam", config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def issuer():
    """A URL of its own for each test (the tests share one emulator)."""
    return ISSUER_PREFIX + uuid.uuid4().hex.upper()


def stored(url: str) -> str:
    return url[len("https://") :]


def read_back(iam, arn):
    """(GetOpenIDConnectProvider without metadata, tags dict), or (None, None) when it does not exist."""
    try:
        provider = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    except ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchEntity":
            return None, None
        raise
    provider.pop("ResponseMetadata", None)
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    return provider, {t["Key"]: t["Value"] for t in tags}


def arns_for(iam, url):
    return [
        p["Arn"]
        for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        if p["Arn"].endswith(stored(url))
    ]


def iam_requests(endpoint) -> int:
    with urllib.request.urlopen(f"{endpoint}/_twin/stats", timeout=10) as resp:
        return json.loads(resp.read().decode())["by_service"].get("iam", 0)


run_module = platform_harness.module_runner(MODULE)


def assert_ok(result):
    assert not result.get("failed"), result.get("msg", result)


def test_lifecycle(endpoint, iam, issuer):
    args = dict(url=issuer, thumbprints=[TP1], tags={"Project": "ml-platform", "Cluster": "gpu"})

    # create
    result = run_module(endpoint, args, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    arn = result["oidc_provider"]["arn"]
    assert arn == f"arn:aws:iam::123456789012:oidc-provider/{stored(issuer)}"
    provider, tags = read_back(iam, arn)
    assert provider["Url"] == stored(issuer)
    assert provider["ClientIDList"] == [STS]
    assert provider["ThumbprintList"] == [TP1]
    assert tags == {"Project": "ml-platform", "Cluster": "gpu"}
    assert result["oidc_provider"]["url"] == stored(issuer)
    assert result["oidc_provider"]["client_ids"] == [STS]
    assert result["oidc_provider"]["thumbprints"] == [TP1]
    assert result["oidc_provider"]["tags"] == {"Project": "ml-platform", "Cluster": "gpu"}
    assert result["oidc_provider"]["create_date"]
    assert result["diff"]["before"] == {}

    # re-run: idempotent (also with a trailing slash and upper-case thumbprints)
    result = run_module(endpoint, args)
    assert_ok(result)
    assert result["changed"] is False
    assert result["oidc_provider"]["arn"] == arn
    result = run_module(endpoint, dict(args, url=issuer + "/", thumbprints=[TP1.upper()]))
    assert_ok(result)
    assert result["changed"] is False
    assert arns_for(iam, issuer) == [arn]

    # thumbprint change: replaced as a set
    result = run_module(endpoint, dict(args, thumbprints=[TP2, TP3]), diff=True)
    assert_ok(result)
    assert result["changed"] is True
    provider, _tags = read_back(iam, arn)
    assert sorted(provider["ThumbprintList"]) == sorted([TP2, TP3])
    assert result["diff"]["before"]["thumbprints"] == [TP1]
    result = run_module(endpoint, dict(args, thumbprints=[TP3, TP2]))
    assert_ok(result)
    assert result["changed"] is False
    # thumbprints not given: left alone
    result = run_module(endpoint, dict(url=issuer))
    assert_ok(result)
    assert result["changed"] is False

    # tags: one changed, one added, one purged
    new_tags = {"Project": "ml-platform-2", "Owner": "ml-infra"}
    result = run_module(endpoint, dict(args, thumbprints=[TP2, TP3], tags=new_tags), diff=True)
    assert_ok(result)
    assert result["changed"] is True
    _provider, tags = read_back(iam, arn)
    assert tags == new_tags
    assert result["oidc_provider"]["tags"] == new_tags
    result = run_module(endpoint, dict(args, thumbprints=[TP2, TP3], tags=new_tags))
    assert_ok(result)
    assert result["changed"] is False
    # purge_tags=false only adds
    result = run_module(endpoint, dict(url=issuer, tags={"Extra": "1"}, purge_tags=False))
    assert_ok(result)
    assert result["changed"] is True
    _provider, tags = read_back(iam, arn)
    assert tags == dict(new_tags, Extra="1")

    # absent by URL
    result = run_module(endpoint, dict(url=issuer, state="absent"), diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["oidc_provider"] == {}
    assert result["diff"]["before"]["arn"] == arn
    assert read_back(iam, arn) == (None, None)
    assert arns_for(iam, issuer) == []

    # absent again: no-op, by URL and by ARN
    result = run_module(endpoint, dict(url=issuer, state="absent"))
    assert_ok(result)
    assert result["changed"] is False
    result = run_module(endpoint, dict(arn=arn, state="absent"))
    assert_ok(result)
    assert result["changed"] is False


def twin_has_client_id_calls(iam) -> bool:
    """Does the emulator implement AddClientIDToOpenIDConnectProvider? (moto 5.2.5 does not.)

    Asked about a provider that does not exist: NoSuchEntity means the action is implemented;
    moto 5.2.5 raises NotImplementedError, a 500 with an HTML body botocore cannot parse.
    """
    try:
        iam.add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn="arn:aws:iam::123456789012:oidc-provider/probe.invalid/none", ClientID="probe"
        )
    except ClientError as e:
        return e.response["Error"]["Code"] == "NoSuchEntity"
    except ResponseParserError:
        return False
    return True


def test_client_ids(endpoint, iam, issuer):
    result = run_module(endpoint, dict(url=issuer, thumbprints=[TP1]))
    assert_ok(result)
    arn = result["oidc_provider"]["arn"]

    wanted = [STS, "https://github.com/my-org"]
    result = run_module(endpoint, dict(url=issuer, thumbprints=[TP1], client_ids=wanted))
    assert twin_has_client_id_calls(iam), "the twin patches AddClientIDToOpenIDConnectProvider (docs/twin.md)"
    assert_ok(result)
    assert result["changed"] is True
    provider, _tags = read_back(iam, arn)
    assert provider["ClientIDList"] == wanted
    result = run_module(endpoint, dict(url=issuer, thumbprints=[TP1], client_ids=list(reversed(wanted))))
    assert_ok(result)
    assert result["changed"] is False

    # replace one, then the default (sts.amazonaws.com only) removes the other
    result = run_module(endpoint, dict(url=issuer, client_ids=["https://github.com/my-org", "other-audience"]))
    assert_ok(result)
    assert result["changed"] is True
    provider, _tags = read_back(iam, arn)
    assert sorted(provider["ClientIDList"]) == ["https://github.com/my-org", "other-audience"]
    result = run_module(endpoint, dict(url=issuer))
    assert_ok(result)
    assert result["changed"] is True
    provider, _tags = read_back(iam, arn)
    assert provider["ClientIDList"] == [STS]

    result = run_module(endpoint, dict(arn=arn, state="absent"))
    assert_ok(result)
    assert result["changed"] is True


def test_check_mode(endpoint, iam, issuer):
    args = dict(url=issuer, thumbprints=[TP1], tags={"Project": "ml-platform"})

    # create in check mode: nothing is created
    result = run_module(endpoint, args, check=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert "arn" not in result["oidc_provider"]
    assert result["oidc_provider"]["url"] == stored(issuer)
    assert arns_for(iam, issuer) == []

    result = run_module(endpoint, args)
    assert_ok(result)
    arn = result["oidc_provider"]["arn"]

    # update in check mode: nothing is changed
    result = run_module(endpoint, dict(args, thumbprints=[TP2], tags={"Other": "x"}), check=True, diff=True)
    assert_ok(result)
    assert result["changed"] is True
    assert result["diff"]["after"]["thumbprints"] == [TP2]
    provider, tags = read_back(iam, arn)
    assert provider["ThumbprintList"] == [TP1]
    assert tags == {"Project": "ml-platform"}

    # delete in check mode: nothing is deleted
    result = run_module(endpoint, dict(arn=arn, state="absent"), check=True)
    assert_ok(result)
    assert result["changed"] is True
    assert read_back(iam, arn)[0] is not None

    result = run_module(endpoint, dict(arn=arn, state="absent"))
    assert_ok(result)
    assert result["changed"] is True
    assert read_back(iam, arn) == (None, None)


def test_invalid_options_make_no_aws_request(endpoint, issuer):
    before = iam_requests(endpoint)
    result = run_module(endpoint, dict(url=issuer + "?x=1", thumbprints=["not-a-thumbprint"]))
    assert result.get("failed") is True
    assert "query string" in result["msg"]
    result = run_module(endpoint, dict(url=issuer, thumbprints=["AB:CD"]))
    assert result.get("failed") is True
    assert "40 hexadecimal characters" in result["msg"]
    assert iam_requests(endpoint) == before
