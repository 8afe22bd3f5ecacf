# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for mlinfra.gpu_platform.iam_oidc_provider (no network: the IAM client is a MagicMock
and the TLS fetch of thumbprint_from_issuer is patched)."""

from __future__ import annotations

import datetime
import hashlib
from unittest.mock import MagicMock
from unittest.mock import call

import botocore.exceptions
import pytest

from ansible_collections.mlinfra.gpu_platform.plugins.modules import iam_oidc_provider

import module_harness

URL = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
STORED_URL = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE"
ARN = f"arn:aws:iam::123456789012:oidc-provider/{STORED_URL}"
OTHER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
TP1 = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
TP2 = "6938fd4d98bab03faadb97b34396831e3780aea1"
STS = "sts.amazonaws.com"

WRITE_CALLS = (
    "create_open_id_connect_provider",
    "delete_open_id_connect_provider",
    "update_open_id_connect_provider_thumbprint",
    "add_client_id_to_open_id_connect_provider",
    "remove_client_id_from_open_id_connect_provider",
    "tag_open_id_connect_provider",
    "untag_open_id_connect_provider",
)



@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    module_harness.no_sleep(monkeypatch, iam_oidc_provider)


@pytest.fixture(autouse=True)
def _no_tls(monkeypatch):
    """No test may reach the network: the TLS fetch fails loudly unless a test patches it."""

    def _refuse(*args, **kwargs):
        raise AssertionError(f"unexpected TLS fetch {args} {kwargs}")

    monkeypatch.setattr(iam_oidc_provider, "fetch_issuer_certificate_chain", _refuse)


def not_found(operation="GetOpenIDConnectProvider"):
    return botocore.exceptions.ClientError(
        {"Error": {"Code": "NoSuchEntity", "Message": "OpenIDConnect Provider not found"}}, operation
    )


def provider(url=STORED_URL, client_ids=(STS,), thumbprints=(TP1,), tags=None):
    return {
        "Url": url,
        "ClientIDList": list(client_ids),
        "ThumbprintList": list(thumbprints),
        "CreateDate": datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc),
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def set_providers(mock, providers):
    """providers: {arn: GetOpenIDConnectProvider response, or a list of successive responses}."""
    mock.list_open_id_connect_providers.return_value = {
        "OpenIDConnectProviderList": [{"Arn": arn} for arn in providers]
    }
    state = {arn: list(v) if isinstance(v, list) else [v] for arn, v in providers.items()}

    def _get(OpenIDConnectProviderArn):
        responses = state.get(OpenIDConnectProviderArn)
        if not responses:
            raise not_found()
        # the last response repeats
        return dict(responses.pop(0) if len(responses) > 1 else responses[0])

    mock.get_open_id_connect_provider.side_effect = _get


@pytest.fixture
def client():
    """The raw (mocked) boto3 IAM client; by default the account has no OIDC provider."""
    mock = MagicMock(name="iam")
    set_providers(mock, {})
    mock.create_open_id_connect_provider.return_value = {"OpenIDConnectProviderArn": ARN}
    return mock


def run_module(client, args, check_mode=False, diff=True):
    """Run main() with `args`; returns (result dict, failed flag)."""
    module_args = dict(args)
    return module_harness.run_module(iam_oidc_provider, "iam", client, module_args, check_mode, diff)


def assert_no_writes(client):
    module_harness.assert_no_writes(client, WRITE_CALLS)


def assert_no_calls(client):
    assert client.method_calls == [], client.method_calls


ARGS = {"url": URL, "thumbprints": [TP1]}


# ---------------------------------------------------------------------------
# state=present
# ---------------------------------------------------------------------------


def test_create(client):
    client.list_open_id_connect_providers.return_value = {"OpenIDConnectProviderList": []}
    client.get_open_id_connect_provider.side_effect = None
    client.get_open_id_connect_provider.return_value = provider(tags={"Project": "ml"})

    result, failed = run_module(client, dict(ARGS, tags={"Project": "ml"}))

    assert not failed, result
    assert result["changed"] is True
    client.create_open_id_connect_provider.assert_called_once_with(
        Url=URL,
        ClientIDList=[STS],
        ThumbprintList=[TP1],
        Tags=[{"Key": "Project", "Value": "ml"}],
    )
    client.get_open_id_connect_provider.assert_called_once_with(OpenIDConnectProviderArn=ARN)
    assert result["oidc_provider"] == {
        "arn": ARN,
        "url": STORED_URL,
        "client_ids": [STS],
        "thumbprints": [TP1],
        "tags": {"Project": "ml"},
        "create_date": "2026-01-01T12:00:00+00:00",
    }
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["arn"] == ARN
    assert "computed_thumbprint" not in result


def test_create_without_thumbprints_or_tags(client):
    """No thumbprints: ThumbprintList is left out (IAM then fetches the thumbprint itself)."""
    client.get_open_id_connect_provider.side_effect = [not_found(), provider(thumbprints=[TP2])]

    result, failed = run_module(client, {"url": URL, "client_ids": ["a", "b", "a"]})

    assert not failed, result
    assert result["changed"] is True
    client.create_open_id_connect_provider.assert_called_once_with(Url=URL, ClientIDList=["a", "b"])
    # the first Get after the create raced IAM's eventual consistency: retried
    assert client.get_open_id_connect_provider.call_count == 2
    assert result["oidc_provider"]["thumbprints"] == [TP2]


def test_create_ignores_other_providers(client):
    set_providers(client, {OTHER_ARN: provider(url="token.actions.githubusercontent.com")})
    # after the create only the new provider is read back
    client.get_open_id_connect_provider.side_effect = None
    client.get_open_id_connect_provider.return_value = provider()

    result, failed = run_module(client, ARGS)

    assert not failed, result
    assert result["changed"] is True
    client.create_open_id_connect_provider.assert_called_once()
    # providers whose ARN does not embed the URL are not fetched
    assert client.get_open_id_connect_provider.call_args_list == [call(OpenIDConnectProviderArn=ARN)]


def test_idempotent_noop(client):
    set_providers(client, {ARN: provider(tags={"Project": "ml"})})

    result, failed = run_module(client, dict(ARGS, tags={"Project": "ml"}))

    assert not failed, result
    assert result["changed"] is False
    assert result["oidc_provider"]["arn"] == ARN
    assert result["oidc_provider"]["tags"] == {"Project": "ml"}
    assert result["diff"]["before"] == result["diff"]["after"]
    assert_no_writes(client)


@pytest.mark.parametrize(
    "url",
    [
        URL + "/",
        "https://OIDC.EKS.us-west-2.amazonaws.com/id/EXAMPLE",
        "HTTPS://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE",
    ],
)
def test_url_compared_without_scheme_case_and_trailing_slash(client, url):
    set_providers(client, {ARN: provider()})

    result, failed = run_module(client, dict(ARGS, url=url))

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_thumbprints_compared_as_a_set(client):
    set_providers(client, {ARN: provider(thumbprints=[TP2, TP1])})

    result, failed = run_module(client, dict(ARGS, thumbprints=[TP1.upper(), TP2, TP1]))

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_thumbprints_not_given_are_left_alone(client):
    set_providers(client, {ARN: provider(thumbprints=[TP2])})

    result, failed = run_module(client, {"url": URL, "thumbprints": []})

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_check_mode_create_makes_no_write_call(client):
    result, failed = run_module(client, dict(ARGS, tags={"Project": "ml"}), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    assert result["oidc_provider"] == {
        "url": STORED_URL,
        "client_ids": [STS],
        "thumbprints": [TP1],
        "tags": {"Project": "ml"},
    }
    assert result["diff"] == {"before": {}, "after": result["oidc_provider"]}


def test_thumbprint_update(client):
    set_providers(client, {ARN: [provider(thumbprints=[TP1]), provider(thumbprints=[TP2])]})

    result, failed = run_module(client, dict(ARGS, thumbprints=[TP2.upper()]))

    assert not failed, result
    assert result["changed"] is True
    client.update_open_id_connect_provider_thumbprint.assert_called_once_with(
        OpenIDConnectProviderArn=ARN, ThumbprintList=[TP2]
    )
    client.add_client_id_to_open_id_connect_provider.assert_not_called()
    client.tag_open_id_connect_provider.assert_not_called()
    assert result["oidc_provider"]["thumbprints"] == [TP2]
    assert result["diff"]["before"]["thumbprints"] == [TP1]
    assert result["diff"]["after"]["thumbprints"] == [TP2]


def test_thumbprint_update_check_mode(client):
    set_providers(client, {ARN: provider(thumbprints=[TP1])})

    result, failed = run_module(client, dict(ARGS, thumbprints=[TP1, TP2]), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    assert sorted(result["oidc_provider"]["thumbprints"]) == sorted([TP1, TP2])


def test_client_ids_added_and_removed(client):
    set_providers(
        client,
        {ARN: [provider(client_ids=[STS, "old-audience"]), provider(client_ids=[STS, "new-audience"])]},
    )

    result, failed = run_module(client, dict(ARGS, client_ids=[STS, "new-audience"]))

    assert not failed, result
    assert result["changed"] is True
    client.add_client_id_to_open_id_connect_provider.assert_called_once_with(
        OpenIDConnectProviderArn=ARN, ClientID="new-audience"
    )
    client.remove_client_id_from_open_id_connect_provider.assert_called_once_with(
        OpenIDConnectProviderArn=ARN, ClientID="old-audience"
    )
    client.update_open_id_connect_provider_thumbprint.assert_not_called()
    assert result["oidc_provider"]["client_ids"] == [STS, "new-audience"]
    assert result["diff"]["before"]["client_ids"] == ["old-audience", STS]
    assert result["diff"]["after"]["client_ids"] == ["new-audience", STS]


def test_default_client_ids_remove_extra_ones_check_mode(client):
    set_providers(client, {ARN: provider(client_ids=[STS, "extra"])})

    result, failed = run_module(client, ARGS, check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    assert result["oidc_provider"]["client_ids"] == [STS]


def test_client_id_error_fails_with_message(client):
    set_providers(client, {ARN: provider(client_ids=[])})
    client.add_client_id_to_open_id_connect_provider.side_effect = botocore.exceptions.ClientError(
        {"Error": {"Code": "LimitExceeded", "Message": "too many"}}, "AddClientIDToOpenIDConnectProvider"
    )

    result, failed = run_module(client, ARGS)

    assert failed
    assert "Failed to add client ID 'sts.amazonaws.com'" in result["msg"]
    assert result["error"]["code"] == "LimitExceeded"


def test_tags_updated(client):
    set_providers(
        client,
        {
            ARN: [
                provider(tags={"Project": "ml", "old": "x", "aws:reserved": "y"}),
                provider(tags={"Project": "ml2", "env": "prod", "aws:reserved": "y"}),
            ]
        },
    )

    result, failed = run_module(client, dict(ARGS, tags={"Project": "ml2", "env": "prod"}))

    assert not failed, result
    assert result["changed"] is True
    client.untag_open_id_connect_provider.assert_called_once_with(OpenIDConnectProviderArn=ARN, TagKeys=["old"])
    tag_kwargs = client.tag_open_id_connect_provider.call_args.kwargs
    assert tag_kwargs["OpenIDConnectProviderArn"] == ARN
    assert sorted(tag_kwargs["Tags"], key=lambda t: t["Key"]) == [
        {"Key": "Project", "Value": "ml2"},
        {"Key": "env", "Value": "prod"},
    ]
    assert result["oidc_provider"]["tags"] == {"Project": "ml2", "env": "prod", "aws:reserved": "y"}
    assert result["diff"]["before"]["tags"]["old"] == "x"


def test_tags_no_purge_check_mode(client):
    set_providers(client, {ARN: provider(tags={"Project": "ml", "old": "x"})})

    result, failed = run_module(client, dict(ARGS, tags={"env": "prod"}, purge_tags=False), check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)
    assert result["oidc_provider"]["tags"] == {"Project": "ml", "old": "x", "env": "prod"}


def test_tags_not_given_are_left_alone(client):
    set_providers(client, {ARN: provider(tags={"Project": "ml"})})

    result, failed = run_module(client, ARGS)

    assert not failed, result
    assert result["changed"] is False
    assert_no_writes(client)


def test_empty_tags_with_purge_removes_all(client):
    set_providers(client, {ARN: [provider(tags={"Project": "ml"}), provider()]})

    result, failed = run_module(client, dict(ARGS, tags={}))

    assert not failed, result
    assert result["changed"] is True
    client.untag_open_id_connect_provider.assert_called_once_with(OpenIDConnectProviderArn=ARN, TagKeys=["Project"])
    client.tag_open_id_connect_provider.assert_not_called()


def test_create_error_fails(client):
    client.create_open_id_connect_provider.side_effect = botocore.exceptions.ClientError(
        {"Error": {"Code": "EntityAlreadyExists", "Message": "exists"}}, "CreateOpenIDConnectProvider"
    )

    result, failed = run_module(client, ARGS)

    assert failed
    assert "Failed to create OpenID Connect provider" in result["msg"]
    assert result["error"]["code"] == "EntityAlreadyExists"


# ---------------------------------------------------------------------------
# thumbprint_from_issuer
# ---------------------------------------------------------------------------

LEAF = b"leaf-certificate-der"
CA = b"intermediate-ca-certificate-der"
CA_TP = hashlib.sha1(CA).hexdigest()


def test_thumbprint_from_issuer_create(client, monkeypatch):
    fetch = MagicMock(return_value=[LEAF, CA])
    monkeypatch.setattr(iam_oidc_provider, "fetch_issuer_certificate_chain", fetch)
    client.get_open_id_connect_provider.side_effect = [not_found(), provider(thumbprints=[CA_TP])]

    result, failed = run_module(client, {"url": URL, "thumbprint_from_issuer": True})

    assert not failed, result
    fetch.assert_called_once_with("oidc.eks.us-west-2.amazonaws.com", 443)
    assert result["computed_thumbprint"] == CA_TP
    assert client.create_open_id_connect_provider.call_args.kwargs["ThumbprintList"] == [CA_TP]
    assert not result.get("warnings")


def test_thumbprint_from_issuer_updates_existing_and_uses_url_port(client, monkeypatch):
    fetch = MagicMock(return_value=[LEAF, b"other", CA])
    monkeypatch.setattr(iam_oidc_provider, "fetch_issuer_certificate_chain", fetch)
    url = "https://issuer.example.com:8443/realms/ml"
    arn = "arn:aws:iam::123456789012:oidc-provider/issuer.example.com:8443/realms/ml"
    set_providers(client, {arn: provider(url="issuer.example.com:8443/realms/ml", thumbprints=[TP1])})

    result, failed = run_module(client, {"url": url, "thumbprint_from_issuer": True}, check_mode=True)

    assert not failed, result
    fetch.assert_called_once_with("issuer.example.com", 8443)
    assert result["changed"] is True
    assert result["oidc_provider"]["thumbprints"] == [CA_TP]
    assert_no_writes(client)


def test_thumbprint_from_issuer_leaf_only_warns(client, monkeypatch):
    monkeypatch.setattr(iam_oidc_provider, "fetch_issuer_certificate_chain", MagicMock(return_value=[LEAF]))
    set_providers(client, {ARN: provider(thumbprints=[hashlib.sha1(LEAF).hexdigest()])})

    result, failed = run_module(client, {"url": URL, "thumbprint_from_issuer": True})

    assert not failed, result
    assert result["changed"] is False
    assert any("only its own certificate" in w for w in result["warnings"])


def test_thumbprint_from_issuer_ignored_when_thumbprints_set(client, monkeypatch):
    fetch = MagicMock()
    monkeypatch.setattr(iam_oidc_provider, "fetch_issuer_certificate_chain", fetch)
    set_providers(client, {ARN: provider()})

    result, failed = run_module(client, dict(ARGS, thumbprint_from_issuer=True))

    assert not failed, result
    assert result["changed"] is False
    fetch.assert_not_called()
    assert any("thumbprint_from_issuer is ignored" in w for w in result["warnings"])


def test_thumbprint_from_issuer_tls_error_fails(client, monkeypatch):
    import ssl

    fetch = MagicMock(side_effect=ssl.SSLCertVerificationError("certificate verify failed"))
    monkeypatch.setattr(iam_oidc_provider, "fetch_issuer_certificate_chain", fetch)

    result, failed = run_module(client, {"url": URL, "thumbprint_from_issuer": True})

    assert failed
    assert "oidc.eks.us-west-2.amazonaws.com:443" in result["msg"]
    assert "certificate verify failed" in result["msg"]
    assert "Set thumbprints instead" in result["msg"]
    assert_no_writes(client)


def test_thumbprint_of_is_lowercase_sha1():
    assert iam_oidc_provider.thumbprint_of(CA) == CA_TP
    assert len(CA_TP) == 40 and CA_TP == CA_TP.lower()


# ---------------------------------------------------------------------------
# state=absent
# ---------------------------------------------------------------------------


def test_absent_by_url(client):
    set_providers(client, {OTHER_ARN: provider(url="token.actions.githubusercontent.com"), ARN: provider()})

    result, failed = run_module(client, {"url": URL, "state": "absent"})

    assert not failed, result
    assert result["changed"] is True
    assert result["oidc_provider"] == {}
    client.delete_open_id_connect_provider.assert_called_once_with(OpenIDConnectProviderArn=ARN)
    assert result["diff"]["before"]["arn"] == ARN
    assert result["diff"]["after"] == {}


def test_absent_by_arn(client):
    set_providers(client, {ARN: provider()})

    result, failed = run_module(client, {"arn": ARN, "state": "absent"})

    assert not failed, result
    assert result["changed"] is True
    client.list_open_id_connect_providers.assert_not_called()
    client.delete_open_id_connect_provider.assert_called_once_with(OpenIDConnectProviderArn=ARN)


def test_absent_check_mode(client):
    set_providers(client, {ARN: provider()})

    result, failed = run_module(client, {"url": URL, "state": "absent"}, check_mode=True)

    assert not failed, result
    assert result["changed"] is True
    assert_no_writes(client)


@pytest.mark.parametrize("args", [{"url": URL}, {"arn": ARN}])
def test_absent_noop(client, args):
    set_providers(client, {OTHER_ARN: provider(url="token.actions.githubusercontent.com")})

    result, failed = run_module(client, dict(args, state="absent"))

    assert not failed, result
    assert result["changed"] is False
    assert result["oidc_provider"] == {}
    assert_no_writes(client)


def test_absent_delete_race_is_ok(client):
    set_providers(client, {ARN: provider()})
    client.delete_open_id_connect_provider.side_effect = not_found("DeleteOpenIDConnectProvider")

    result, failed = run_module(client, {"arn": ARN, "state": "absent"})

    assert not failed, result
    assert result["changed"] is True


def test_absent_delete_error_fails(client):
    set_providers(client, {ARN: provider()})
    client.delete_open_id_connect_provider.side_effect = botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteOpenIDConnectProvider"
    )

    result, failed = run_module(client, {"arn": ARN, "state": "absent"})

    assert failed
    assert f"Failed to delete OpenID Connect provider {ARN}" in result["msg"]


# ---------------------------------------------------------------------------
# option validation (fails before any API call)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(ARGS, thumbprints=["abc"]), "thumbprints must be SHA-1 fingerprints of 40 hexadecimal characters"),
        (dict(ARGS, thumbprints=[TP1[:-1] + "g"]), "40 hexadecimal characters"),
        (dict(ARGS, thumbprints=[":".join(TP1[i : i + 2] for i in range(0, 40, 2))]), "without colons"),
        (dict(ARGS, thumbprints=[c * 40 for c in "abcdef"]), "at most 5 thumbprints are allowed, got 6"),
        (dict(ARGS, url="http://oidc.example.com"), "url must start with https://"),
        (dict(ARGS, url="oidc.example.com/id/x"), "url must start with https://"),
        (dict(ARGS, url="https://oidc.example.com/id?x=1"), "url must not have a query string"),
        (dict(ARGS, url="https://oidc.example.com/id#frag"), "url must not have a fragment"),
        (dict(ARGS, url="https:///id/x"), "url must name a host"),
        (dict(ARGS, url="https://user@oidc.example.com"), "must not contain user information"),
        (dict(ARGS, url="https://oidc.example.com:99999"), "is not a valid URL"),
        (dict(ARGS, url="https://oidc.example.com/" + "a" * 250), "at most 255 characters"),
        (dict(ARGS, url="https://oidc.example.com/a b"), "white space"),
        (dict(ARGS, client_ids=[""]), "client_ids must be 1 to 255 characters long"),
        (dict(ARGS, client_ids=[str(i) for i in range(101)]), "at most 100 client_ids"),
        (dict(url="https://oidc.example.com/", state="absent", arn=ARN), "mutually exclusive"),
        (dict(arn=ARN), "arn can only be used with state=absent"),
        (dict(arn="arn:aws:iam::123456789012:role/x", state="absent"), "must be the ARN of an IAM OpenID Connect"),
        (dict(state="absent"), "url, arn"),
        (dict(thumbprints=[TP1]), "url is required when state=present"),
        (dict(url="http://x", state="absent"), "url must start with https://"),
    ],
)
def test_invalid_options_rejected_before_any_call(client, args, message):
    result, failed = run_module(client, args)

    assert failed
    assert message in result["msg"]
    assert_no_calls(client)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (URL, STORED_URL),
        (STORED_URL, STORED_URL),
        ("https://Issuer.Example.COM/Path/", "issuer.example.com/Path"),
        (None, ""),
    ],
)
def test_url_key(value, expected):
    assert iam_oidc_provider.url_key(value) == expected


@pytest.mark.parametrize(
    "arn, expected",
    [
        (ARN, STORED_URL),
        ("arn:aws-us-gov:iam::123456789012:oidc-provider/example.com", "example.com"),
        ("arn:aws:iam::123456789012:role/x", None),
        ("arn:aws:s3:::bucket", None),
        ("not-an-arn", None),
    ],
)
def test_url_from_arn(arn, expected):
    assert iam_oidc_provider.url_from_arn(arn) == expected
