# -*- coding: utf-8 -*-

# Copyright: (c) 2026, mlinfra platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""JSON calls to Google APIs that keep the server's error message.

Authentication is google.cloud's: the credentials and the User-Agent come from its
``GcpSession`` (so ``auth_kind``, ``service_account_file``, ``access_token``, ``scopes`` and
``env_type`` behave as in the google.cloud modules). Only the request/response handling is
ours: ``GcpSession.full_post`` fails with "'ConnectionError' object has no attribute 'message'"
on a transport error and ``GcpModule.raise_for_status`` prints the raw JSON, so errors here are
turned into a ``GcpApiError`` carrying the HTTP status, the API's status (``PERMISSION_DENIED``,
``ABORTED``...) and the server's message verbatim.
"""

from __future__ import annotations

import json
from typing import Any
from typing import Dict
from typing import Optional

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.google.cloud.plugins.module_utils import gcp_utils

try:
    import google.auth.exceptions as google_auth_exceptions
except ImportError:  # pragma: no cover - reported by check_libraries()
    google_auth_exceptions = None

DEFAULT_TIMEOUT = 60

# What a request can raise before there is a response: requests' errors are OSErrors; google-auth
# raises RefreshError & co. (GoogleAuthError) when it cannot get or refresh a token.
TRANSPORT_ERRORS: tuple = (OSError, ValueError)
if google_auth_exceptions is not None:
    TRANSPORT_ERRORS += (google_auth_exceptions.GoogleAuthError,)


class GcpApiError(Exception):
    """A Google API call that failed; ``message`` is the server's message when it sent one."""

    def __init__(
        self,
        message: str,
        http_status: Optional[int] = None,
        status: Optional[str] = None,
        details: Optional[Any] = None,
    ):
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.status = status
        self.details = details

    def describe(self) -> str:
        """'HTTP 403 PERMISSION_DENIED: <server message>' (the parts that are known)."""
        prefix = []
        if self.http_status is not None:
            prefix.append(f"HTTP {self.http_status}")
        if self.status:
            prefix.append(self.status)
        return (" ".join(prefix) + ": " if prefix else "") + self.message

    def as_dict(self) -> Dict[str, Any]:
        return {
            "http_status": self.http_status,
            "status": self.status,
            "message": self.message,
            "details": self.details,
        }


def check_libraries(module) -> None:
    """Fail with the standard missing-library message (before any credentials are built)."""
    if not gcp_utils.HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib("requests"))
    if not gcp_utils.HAS_GOOGLE_LIBRARIES:
        module.fail_json(msg=missing_required_lib("google-auth"))


def error_from_response(response) -> GcpApiError:
    """A GcpApiError from an HTTP error response.

    Google APIs answer ``{"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED",
    "details": [...]}}``; anything else (an HTML page from a proxy, an empty body) is reported
    with the start of the body text.
    """
    http_status = getattr(response, "status_code", None)
    body: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        message = err.get("message") or json.dumps(err, sort_keys=True)
        return GcpApiError(str(message), http_status, err.get("status"), err.get("details"))
    if isinstance(body, dict) and body.get("error"):
        # OAuth-style {"error": "invalid_grant", "error_description": "..."}
        message = body.get("error_description") or str(body["error"])
        return GcpApiError(str(message), http_status, str(body["error"]))
    text = (getattr(response, "text", "") or "").strip()
    reason = getattr(response, "reason", None)
    message = text[:500] if text else (reason or "no response body")
    return GcpApiError(message, http_status)


def transport_error(exc: Exception) -> GcpApiError:
    """A GcpApiError for an exception raised before any response arrived."""
    if google_auth_exceptions is not None and isinstance(exc, google_auth_exceptions.GoogleAuthError):
        return GcpApiError(f"authentication failed: {exc}", status="UNAUTHENTICATED")
    return GcpApiError(f"request failed: {type(exc).__name__}: {exc}")


class GcpJsonClient:
    """POST JSON to Google APIs with google.cloud's credentials; raises GcpApiError on failure."""

    def __init__(self, module, product: str, timeout: float = DEFAULT_TIMEOUT):
        check_libraries(module)
        self.module = module
        # Validates the auth options the way the google.cloud modules do (fails the module).
        self.gcp_session = gcp_utils.GcpSession(module, product)
        self.timeout = timeout
        self._session = None

    def _authorized_session(self):
        if self._session is None:
            self._session = self.gcp_session.session()
        return self._session

    def post(self, url: str, body: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        # pylint: disable-next=protected-access
        headers = self.gcp_session._headers()
        headers["Content-Type"] = "application/json"
        try:
            response = self._authorized_session().post(url, json=body, headers=headers, timeout=self.timeout)
        except TRANSPORT_ERRORS as e:
            raise transport_error(e) from e
        if getattr(response, "status_code", 0) >= 400:
            raise error_from_response(response)
        try:
            data = response.json()
        except ValueError as e:
            raise GcpApiError(f"the response of {url} is not JSON: {e}", response.status_code) from e
        if not isinstance(data, dict):
            raise GcpApiError(f"the response of {url} is not a JSON object", response.status_code)
        return data
