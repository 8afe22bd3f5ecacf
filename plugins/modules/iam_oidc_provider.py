#!/usr/bin/python
# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_oidc_provider
version_added: 0.1.0
short_description: Manage IAM OpenID Connect (OIDC) identity providers
description:
  - Create, update, tag and delete an IAM OpenID Connect identity provider, for example the
    provider of an EKS cluster's OIDC issuer that IAM roles for service accounts (IRSA) trust.
  - The provider is identified by its issuer URL O(url). IAM stores the URL without the
    V(https://) scheme; the module compares URLs without the scheme, with the host name
    compared case-insensitively and a trailing V(/) ignored.
  - The thumbprints, client IDs (audiences) and tags of an existing provider are updated in place.
  - This module supports check mode and diff mode.
author:
  - mlinfra platform team
options:
  state:
    description:
      - Whether the provider should exist.
    type: str
    choices: ['present', 'absent']
    default: present
  url:
    description:
      - The issuer URL of the identity provider, for example
        V(https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE).
      - Must start with V(https://), name a host, and have no query string, fragment or user
        information. At most 255 characters.
      - Required when O(state=present).
      - With O(state=absent), one of O(url) and O(arn) is required.
      - Mutually exclusive with O(arn).
    type: str
  arn:
    description:
      - The ARN of the provider to delete, for example
        V(arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE).
      - Only valid with O(state=absent), as an alternative to O(url).
    type: str
  client_ids:
    description:
      - The client IDs (audiences) the provider accepts.
      - The provider ends up with exactly these client IDs; client IDs of an existing provider
        that are not listed are removed. An empty list removes all of them.
      - At most 100 client IDs of 1 to 255 characters each. Duplicates are ignored.
    type: list
    elements: str
    default: ['sts.amazonaws.com']
  thumbprints:
    description:
      - The SHA-1 thumbprints of the identity provider's server certificates, each 40 hexadecimal
        characters (no colons). At most 5. Compared as a set, case-insensitively.
      - When set, the thumbprints of an existing provider are replaced by these when they differ.
      - When not set (or empty) and O(thumbprint_from_issuer=false), the thumbprints of an
        existing provider are left alone and a new provider is created without a thumbprint list
        (IAM then retrieves the thumbprint of the issuer itself).
    type: list
    elements: str
  thumbprint_from_issuer:
    description:
      - When V(true) and O(thumbprints) is not set, compute the thumbprint the way AWS documents
        it in I(Obtain the thumbprint for an OpenID Connect identity provider). The module opens
        a TLS connection to the host of O(url) on port 443 (or the port in O(url)), with SNI, and
        takes the SHA-1 fingerprint of the last certificate of the chain the server presents,
        that is the top intermediate or root CA certificate.
      - The connection is made from the host the module runs on, with Python's C(ssl) module,
        and the server certificate is verified against the system trust store.
      - The computed thumbprint then becomes the only wanted thumbprint (as if O(thumbprints)
        had been set to it).
      - AWS's procedure connects to the host of the C(jwks_uri) of the issuer's discovery document;
        for EKS issuers that is the issuer host itself. The module does not read the discovery
        document.
      - If the server presents only its own certificate, that certificate's thumbprint is used
        (with a warning, because it changes whenever the certificate is renewed).
      - Reading the presented chain needs Python 3.10 or later on the managed host.
      - Ignored (with a warning) when O(thumbprints) is set, and when O(state=absent).
    type: bool
    default: false
notes:
  - Client IDs are added and removed one by one (AddClientIDToOpenIDConnectProvider,
    RemoveClientIDFromOpenIDConnectProvider). IAM has no call that sets them all at once.
  - The provider's ARN is derived from its URL, so the URL of a provider cannot be changed;
    a different O(url) is a different provider.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
# Note: These examples do not set authentication details, see the AWS Guide for details.

- name: Trust the OIDC issuer of an EKS cluster (IAM roles for service accounts)
  mlinfra.gpu_platform.iam_oidc_provider:
    url: "{{ eks_cluster.identity.oidc.issuer }}"
    thumbprints:
      - 9e99a48a9960b14926bb7f3b02e22da2b0ab7280
    tags:
      Project: ml-platform
  register: oidc

- name: Compute the thumbprint from the issuer's TLS certificate chain
  mlinfra.gpu_platform.iam_oidc_provider:
    url: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    thumbprint_from_issuer: true

- name: Accept a second audience
  mlinfra.gpu_platform.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    client_ids:
      - sts.amazonaws.com
      - https://github.com/my-org
    thumbprints:
      - 6938fd4d98bab03faadb97b34396831e3780aea1

- name: Delete a provider by URL
  mlinfra.gpu_platform.iam_oidc_provider:
    url: https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
    state: absent

- name: Delete a provider by ARN
  mlinfra.gpu_platform.iam_oidc_provider:
    arn: "{{ oidc.oidc_provider.arn }}"
    state: absent
"""

RETURN = r"""
oidc_provider:
  description:
    - The provider.
    - Empty when O(state=absent).
    - In check mode, when the provider would be created, the predicted provider without
      RV(oidc_provider.arn) and RV(oidc_provider.create_date).
  returned: always
  type: dict
  contains:
    arn:
      description: The ARN of the provider.
      returned: when the provider exists
      type: str
      sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE
    url:
      description: The issuer URL as IAM stores it, without the V(https://) scheme.
      returned: when O(state=present)
      type: str
      sample: oidc.eks.us-west-2.amazonaws.com/id/EXAMPLE
    client_ids:
      description: The client IDs (audiences) of the provider.
      returned: when O(state=present)
      type: list
      elements: str
      sample: ["sts.amazonaws.com"]
    thumbprints:
      description: The certificate thumbprints of the provider.
      returned: when O(state=present)
      type: list
      elements: str
      sample: ["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    tags:
      description: The tags of the provider.
      returned: when O(state=present)
      type: dict
      sample: {"Project": "ml-platform"}
    create_date:
      description: When the provider was created (ISO 8601).
      returned: when the provider exists
      type: str
      sample: "2026-01-01T12:00:00+00:00"
computed_thumbprint:
  description: The thumbprint computed from the issuer's certificate chain.
  returned: when O(thumbprint_from_issuer=true) was used
  type: str
  sample: 9e99a48a9960b14926bb7f3b02e22da2b0ab7280
"""

import hashlib
import re
import socket
import ssl
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional
from typing import Tuple
from urllib.parse import urlsplit

try:
    import botocore
except ImportError:
    pass  # Handled by AnsibleAWSModule

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn
from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.botocore import normalize_boto3_result
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

NOT_FOUND = "NoSuchEntity"
ARN_RESOURCE_PREFIX = "oidc-provider/"
THUMBPRINT_RE = re.compile(r"^[0-9a-fA-F]{40}$")
MAX_THUMBPRINTS = 5
MAX_CLIENT_IDS = 100
MAX_CLIENT_ID_LENGTH = 255
MAX_URL_LENGTH = 255
DEFAULT_TLS_PORT = 443
TLS_TIMEOUT = 10.0

# Keys shown in --diff output, in this order.
DIFF_KEYS = ("arn", "url", "client_ids", "thumbprints", "tags")

# How long to wait for a newly created provider to show up in GetOpenIDConnectProvider (IAM is
# eventually consistent).
GET_AFTER_CREATE_ATTEMPTS = 10
GET_AFTER_CREATE_DELAY = 2


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def url_key(url: Optional[str]) -> str:
    """The comparable form of an issuer URL: no scheme, lower-case host, no trailing '/'.

    Works for user input (https://host/path) and for what IAM stores (host/path).
    """
    if not url:
        return ""
    if "://" in url:
        url = url.split("://", 1)[1]
    host, sep, path = url.partition("/")
    return (host.lower() + sep + path).rstrip("/")


def url_from_arn(arn: str) -> Optional[str]:
    """The URL (without scheme) an OIDC provider ARN was derived from, None for other ARNs."""
    details = parse_aws_arn(arn)
    if not details or details.get("service") != "iam":
        return None
    resource = details.get("resource") or ""
    if not resource.startswith(ARN_RESOURCE_PREFIX):
        return None
    return resource[len(ARN_RESOURCE_PREFIX) :] or None


def _unique(items: List[str]) -> List[str]:
    seen = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def normalize_thumbprints(thumbprints: Optional[List[str]]) -> List[str]:
    return _unique([t.lower() for t in thumbprints or []])


def format_provider(arn: Optional[str], provider: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """A GetOpenIDConnectProvider response as the module returns it."""
    if not provider:
        return {}
    provider = normalize_boto3_result(provider)
    result: Dict[str, Any] = {}
    if arn:
        result["arn"] = arn
    result["url"] = provider.get("Url")
    result["client_ids"] = list(provider.get("ClientIDList") or [])
    result["thumbprints"] = list(provider.get("ThumbprintList") or [])
    result["tags"] = boto3_tag_list_to_ansible_dict(provider.get("Tags") or [])
    if provider.get("CreateDate"):
        result["create_date"] = provider["CreateDate"]
    return result


def diff_view(provider: Dict[str, Any]) -> Dict[str, Any]:
    """The user-facing, comparable subset of a formatted provider (lists sorted)."""
    view = {}
    for key in DIFF_KEYS:
        if provider.get(key) is None:
            continue
        value = provider[key]
        view[key] = sorted(value) if isinstance(value, list) else value
    return view


# ---------------------------------------------------------------------------
# Issuer thumbprint (the only code that talks to something other than AWS)
# ---------------------------------------------------------------------------


class IssuerChainUnavailable(Exception):
    """The certificate chain presented by the issuer cannot be read with this Python."""


def fetch_issuer_certificate_chain(
    host: str, port: int = DEFAULT_TLS_PORT, timeout: float = TLS_TIMEOUT, context: Optional[ssl.SSLContext] = None
) -> List[bytes]:
    """Connect to host:port with TLS and return the certificates the server presented (DER, leaf first).

    SNI is sent and the server certificate and host name are verified (against the system trust
    store unless another context is given). Raises OSError / ssl.SSLError on connection or
    verification failures and IssuerChainUnavailable when Python cannot expose the chain.
    """
    context = context or ssl.create_default_context()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        with context.wrap_socket(sock, server_hostname=host) as tls:
            # Python >= 3.13: public API, returns DER bytes. Python 3.10 - 3.12: the same call
            # exists on the private _ssl socket object and returns _ssl.Certificate objects.
            getter = getattr(tls, "get_unverified_chain", None)
            if getter is None:
                getter = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
            if getter is None:
                raise IssuerChainUnavailable(
                    "this Python cannot read the certificate chain presented by a TLS server "
                    "(Python 3.10 or later is needed)"
                )
            chain = getter() or []
    der_chain = []
    for cert in chain:
        if isinstance(cert, (bytes, bytearray)):
            der_chain.append(bytes(cert))
        else:
            der_chain.append(ssl.PEM_cert_to_DER_cert(cert.public_bytes()))
    return der_chain


def thumbprint_of(der_cert: bytes) -> str:
    """The SHA-1 fingerprint of a DER certificate as IAM expects it: 40 lower-case hex characters."""
    return hashlib.sha1(der_cert).hexdigest()  # nosec B324 - SHA-1 is what IAM uses for thumbprints


def issuer_thumbprint(module, url: str) -> str:
    """The thumbprint of the top CA certificate the issuer host presents (AWS's documented procedure)."""
    parts = urlsplit(url)
    host = parts.hostname
    port = parts.port or DEFAULT_TLS_PORT
    try:
        chain = fetch_issuer_certificate_chain(host, port)
    except IssuerChainUnavailable as e:
        module.fail_json(msg=f"Cannot compute the thumbprint of {host}:{port}: {e}. Set thumbprints instead.")
    except (OSError, ssl.SSLError, ValueError) as e:
        module.fail_json(
            msg=f"Failed to read the TLS certificate chain of {host}:{port} to compute its thumbprint: {e}. "
            "Set thumbprints instead."
        )
    if not chain:
        module.fail_json(msg=f"{host}:{port} presented no certificate; set thumbprints instead.")
    if len(chain) == 1:
        module.warn(
            f"{host}:{port} presented only its own certificate, not its CA chain: the thumbprint is that of the "
            "server certificate and changes whenever it is renewed."
        )
    return thumbprint_of(chain[-1])


# ---------------------------------------------------------------------------
# API wrappers
# ---------------------------------------------------------------------------


def list_provider_arns(client, module) -> List[str]:
    try:
        response = client.list_open_id_connect_providers(aws_retry=True)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to list OpenID Connect providers")
    return [p["Arn"] for p in response.get("OpenIDConnectProviderList") or [] if p.get("Arn")]


def get_provider(client, module, arn: str, wait: bool = False) -> Optional[Dict[str, Any]]:
    """GetOpenIDConnectProvider; None when it does not exist (after waiting, if wait)."""
    attempts = GET_AFTER_CREATE_ATTEMPTS if wait else 1
    for attempt in range(attempts):
        try:
            response = client.get_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn)
            response.pop("ResponseMetadata", None)
            return response
        except is_boto3_error_code(NOT_FOUND):
            pass
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as e:  # pylint: disable=duplicate-except
            module.fail_json_aws(e, msg=f"Failed to get OpenID Connect provider {arn}")
        if attempt + 1 < attempts:
            time.sleep(GET_AFTER_CREATE_DELAY)
    return None


def find_provider_by_url(client, module, url: str) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    """(arn, GetOpenIDConnectProvider response) of the provider for url, (None, None) if there is none.

    The ARN of a provider embeds its URL, so only the providers whose ARN matches are fetched
    (one GetOpenIDConnectProvider call instead of one per provider); the Url they report is
    then compared too.
    """
    wanted = url_key(url)
    for arn in list_provider_arns(client, module):
        if url_key(url_from_arn(arn)) != wanted:
            continue
        provider = get_provider(client, module, arn)
        if provider is not None and url_key(provider.get("Url")) == wanted:
            return arn, provider
    return None, None


def _call(client, module, method: str, msg: str, **params) -> None:
    try:
        getattr(client, method)(aws_retry=True, **params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=msg)


def create_provider(
    client, module, url: str, client_ids: List[str], thumbprints: List[str], tags: Dict[str, str]
) -> str:
    params: Dict[str, Any] = {"Url": url, "ClientIDList": client_ids}
    if thumbprints:
        params["ThumbprintList"] = thumbprints
    if tags:
        params["Tags"] = ansible_dict_to_boto3_tag_list(tags)
    try:
        response = client.create_open_id_connect_provider(aws_retry=True, **params)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg=f"Failed to create OpenID Connect provider for {url}")
    arn = response.get("OpenIDConnectProviderArn")
    if not arn:
        module.fail_json(msg=f"CreateOpenIDConnectProvider returned no ARN for {url}")
    return arn


def delete_provider(client, module, arn: str) -> None:
    try:
        client.delete_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn)
    except is_boto3_error_code(NOT_FOUND):
        return  # already gone
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as e:  # pylint: disable=duplicate-except
        module.fail_json_aws(e, msg=f"Failed to delete OpenID Connect provider {arn}")


# ---------------------------------------------------------------------------
# State handling
# ---------------------------------------------------------------------------


def wanted_thumbprints(module) -> Tuple[Optional[List[str]], Optional[str]]:
    """(thumbprints to enforce or None to leave alone, computed thumbprint or None)."""
    p = module.params
    thumbprints = normalize_thumbprints(p["thumbprints"])
    if thumbprints:
        if p["thumbprint_from_issuer"]:
            module.warn("thumbprint_from_issuer is ignored because thumbprints is set")
        return thumbprints, None
    if p["thumbprint_from_issuer"]:
        computed = issuer_thumbprint(module, p["url"])
        return [computed], computed
    return None, None


def ensure_present(client, module) -> Dict[str, Any]:
    p = module.params
    url = p["url"]
    client_ids = _unique(p["client_ids"] or [])
    thumbprints, computed = wanted_thumbprints(module)
    tags_param = p["tags"]
    purge_tags = p["purge_tags"]

    arn, existing = find_provider_by_url(client, module, url)
    result: Dict[str, Any]

    # --- create -----------------------------------------------------------
    if existing is None:
        tags = dict(tags_param or {})
        after: Dict[str, Any] = {
            "url": url.split("://", 1)[1],  # IAM stores the URL without the scheme
            "client_ids": client_ids,
            "thumbprints": list(thumbprints or []),
            "tags": tags,
        }
        result = {"changed": True, "oidc_provider": after}
        if not module.check_mode:
            arn = create_provider(client, module, url, client_ids, thumbprints or [], tags)
            created = get_provider(client, module, arn, wait=True)
            result["oidc_provider"] = format_provider(arn, created) if created else dict(after, arn=arn)
        result["diff"] = {"before": {}, "after": diff_view(result["oidc_provider"])}
        if computed:
            result["computed_thumbprint"] = computed
        return result

    # --- update in place --------------------------------------------------
    current = format_provider(arn, existing)
    after = dict(current)
    changed = False

    if thumbprints is not None and set(normalize_thumbprints(current["thumbprints"])) != set(thumbprints):
        changed = True
        after["thumbprints"] = list(thumbprints)
        if not module.check_mode:
            _call(
                client,
                module,
                "update_open_id_connect_provider_thumbprint",
                f"Failed to update the thumbprints of OpenID Connect provider {arn}",
                OpenIDConnectProviderArn=arn,
                ThumbprintList=thumbprints,
            )

    to_add = [c for c in client_ids if c not in current["client_ids"]]
    to_remove = [c for c in current["client_ids"] if c not in client_ids]
    if to_add or to_remove:
        changed = True
        after["client_ids"] = [c for c in current["client_ids"] if c in client_ids] + to_add
        if not module.check_mode:
            for client_id in to_add:
                _call(
                    client,
                    module,
                    "add_client_id_to_open_id_connect_provider",
                    f"Failed to add client ID {client_id!r} to OpenID Connect provider {arn}",
                    OpenIDConnectProviderArn=arn,
                    ClientID=client_id,
                )
            for client_id in to_remove:
                _call(
                    client,
                    module,
                    "remove_client_id_from_open_id_connect_provider",
                    f"Failed to remove client ID {client_id!r} from OpenID Connect provider {arn}",
                    OpenIDConnectProviderArn=arn,
                    ClientID=client_id,
                )

    if tags_param is not None:
        to_set, to_unset = compare_aws_tags(current["tags"], tags_param, purge_tags)
        if to_set or to_unset:
            changed = True
            new_tags = {k: v for k, v in current["tags"].items() if k not in to_unset}
            new_tags.update(to_set)
            after["tags"] = new_tags
            if not module.check_mode:
                if to_unset:
                    _call(
                        client,
                        module,
                        "untag_open_id_connect_provider",
                        f"Failed to remove tags from OpenID Connect provider {arn}",
                        OpenIDConnectProviderArn=arn,
                        TagKeys=to_unset,
                    )
                if to_set:
                    _call(
                        client,
                        module,
                        "tag_open_id_connect_provider",
                        f"Failed to tag OpenID Connect provider {arn}",
                        OpenIDConnectProviderArn=arn,
                        Tags=ansible_dict_to_boto3_tag_list(to_set),
                    )

    if changed and not module.check_mode:
        refreshed = get_provider(client, module, arn)
        if refreshed is not None:
            after = format_provider(arn, refreshed)

    result = {
        "changed": changed,
        "oidc_provider": after,
        "diff": {"before": diff_view(current), "after": diff_view(after)},
    }
    if computed:
        result["computed_thumbprint"] = computed
    return result


def ensure_absent(client, module) -> Dict[str, Any]:
    p = module.params
    if p["arn"]:
        arn = p["arn"]
        existing = get_provider(client, module, arn)
    else:
        arn, existing = find_provider_by_url(client, module, p["url"])

    if existing is None:
        return {"changed": False, "oidc_provider": {}, "diff": {"before": {}, "after": {}}}
    before = diff_view(format_provider(arn, existing))
    if not module.check_mode:
        delete_provider(client, module, arn)
    return {"changed": True, "oidc_provider": {}, "diff": {"before": before, "after": {}}}


# ---------------------------------------------------------------------------
# Validation (before any API call)
# ---------------------------------------------------------------------------


def validate_url(module, url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        module.fail_json(msg=f"url must be at most {MAX_URL_LENGTH} characters, got {len(url)}")
    if any(c.isspace() for c in url):
        module.fail_json(msg=f"url must not contain white space, got {url!r}")
    if not url.lower().startswith("https://"):
        module.fail_json(msg=f"url must start with https://, got {url!r}")
    try:
        parts = urlsplit(url)
        _port = parts.port  # raises ValueError for a port that is not a number in 0-65535
    except ValueError as e:
        module.fail_json(msg=f"url {url!r} is not a valid URL: {e}")
    if not parts.hostname:
        module.fail_json(msg=f"url must name a host (https://HOST[/PATH]), got {url!r}")
    if "?" in url:
        module.fail_json(msg=f"url must not have a query string (IAM refuses query parameters), got {url!r}")
    if "#" in url:
        module.fail_json(msg=f"url must not have a fragment, got {url!r}")
    if "@" in parts.netloc:
        module.fail_json(msg=f"url must not contain user information, got {url!r}")


def validate_params(module) -> None:
    p = module.params
    if p["url"] is not None:
        validate_url(module, p["url"])
    if p["state"] == "present" and not p["url"]:
        if p["arn"]:
            module.fail_json(msg="arn can only be used with state=absent; state=present needs url")
        module.fail_json(msg="url is required when state=present")
    if p["arn"] is not None:
        if url_from_arn(p["arn"]) is None:
            module.fail_json(
                msg=f"arn must be the ARN of an IAM OpenID Connect provider "
                f"(arn:aws:iam::ACCOUNT:oidc-provider/HOST[/PATH]), got {p['arn']!r}"
            )
    if p["state"] != "present":
        return

    thumbprints = p["thumbprints"] or []
    bad = [t for t in thumbprints if not isinstance(t, str) or not THUMBPRINT_RE.match(t)]
    if bad:
        module.fail_json(
            msg="thumbprints must be SHA-1 fingerprints of 40 hexadecimal characters (without colons), got: "
            + ", ".join(repr(t) for t in bad)
        )
    unique = normalize_thumbprints(thumbprints)
    if len(unique) > MAX_THUMBPRINTS:
        module.fail_json(msg=f"at most {MAX_THUMBPRINTS} thumbprints are allowed, got {len(unique)}")

    client_ids = _unique(p["client_ids"] or [])
    if len(client_ids) > MAX_CLIENT_IDS:
        module.fail_json(msg=f"at most {MAX_CLIENT_IDS} client_ids are allowed, got {len(client_ids)}")
    bad = [c for c in client_ids if not c or len(c) > MAX_CLIENT_ID_LENGTH]
    if bad:
        module.fail_json(
            msg=f"client_ids must be 1 to {MAX_CLIENT_ID_LENGTH} characters long, got: "
            + ", ".join(repr(c) for c in bad)
        )


def main():
    argument_spec = dict(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        url=dict(type="str"),
        arn=dict(type="str"),
        client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
        thumbprints=dict(type="list", elements="str"),
        thumbprint_from_issuer=dict(type="bool", default=False),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
    )

    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[["url", "arn"]],
        # state=present needs url: checked by validate_params, which also explains a misplaced arn
        required_if=[["state", "absent", ["url", "arn"], True]],
    )
    validate_params(module)

    try:
        client = module.client("iam", retry_decorator=AWSRetry.jittered_backoff(retries=10))
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="Failed to connect to AWS")

    if module.params["state"] == "present":
        result = ensure_present(client, module)
    else:
        result = ensure_absent(client, module)

    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
