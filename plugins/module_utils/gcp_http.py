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

Compute Engine answers writes with an operation; ``GcpJsonClient.wait_operation`` polls it until
it is DONE and turns an operation that ended with ``error.errors[]`` into a ``GcpApiError`` too.
"""

from __future__ import annotations

import json
import time
from typing import Any
from typing import Dict
from typing import List
from typing import Optional

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.google.cloud.plugins.module_utils import gcp_utils

try:
    import google.auth.exceptions as google_auth_exceptions
except ImportError:  # pragma: no cover - reported by check_libraries()
    google_auth_exceptions = None

DEFAULT_TIMEOUT = 60

# Compute Engine operations: the first poll after POLL_INITIAL seconds, then every POLL_FACTOR
# times longer, up to POLL_MAX seconds between polls.
POLL_INITIAL = 1.0
POLL_FACTOR = 1.5
POLL_MAX = 10.0
# How many polls in a row may fail with a transient error (no response, HTTP 429 or 5xx) before
# the waiter gives up; the operation itself goes on regardless of our polling.
POLL_TRANSIENT_ERRORS = 5

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


def is_transient(error: GcpApiError) -> bool:
    """No response at all, or an HTTP status that is worth asking again (429, 5xx)."""
    if error.http_status is None:
        return error.status != "UNAUTHENTICATED"
    return error.http_status == 429 or error.http_status >= 500


def operation_error(operation: Dict[str, Any]) -> Optional[GcpApiError]:
    """The GcpApiError of a finished Compute Engine operation that failed, else None.

    A failed operation is DONE with ``error.errors[]`` (``code`` such as
    ``ZONE_RESOURCE_POOL_EXHAUSTED`` or ``QUOTA_EXCEEDED``, and ``message``) and usually
    ``httpErrorStatusCode``/``httpErrorMessage``.
    """
    error = operation.get("error")
    if not error:
        return None
    errors: List[Dict[str, Any]] = [e for e in (error.get("errors") or []) if isinstance(e, dict)]
    http_status = operation.get("httpErrorStatusCode")
    try:
        http_status = int(http_status) if http_status is not None else None
    except (TypeError, ValueError):
        http_status = None
    if not errors:
        message = operation.get("httpErrorMessage") or json.dumps(error, sort_keys=True)
        return GcpApiError(str(message), http_status, None, error)
    status = errors[0].get("code")
    if len(errors) == 1:
        message = str(errors[0].get("message") or status or "operation failed")
    else:
        message = "; ".join(
            f"{e.get('code')}: {e.get('message')}" if e.get("code") else str(e.get("message")) for e in errors
        )
    return GcpApiError(message, http_status, status, errors)


class GcpJsonClient:
    """GET, POST and DELETE JSON on Google APIs with google.cloud's credentials.

    Every failure (HTTP error, transport or authentication error, failed operation) is raised
    as a GcpApiError.
    """

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

    def request(
        self,
        method: str,
        url: str,
        body: Optional[Dict[str, Any]] = None,
        params: Optional[Dict[str, Any]] = None,
        allow_missing: bool = False,
    ) -> Optional[Dict[str, Any]]:
        """Send one request; the JSON object answered, or None for a 404 when allow_missing.

        Raises GcpApiError for an HTTP error (with the server's message), a transport or
        authentication error, or a response that is not a JSON object.
        """
        # pylint: disable-next=protected-access
        headers = self.gcp_session._headers()
        kwargs: Dict[str, Any] = {"headers": headers, "timeout": self.timeout}
        if method == "POST":
            headers["Content-Type"] = "application/json"
            kwargs["json"] = body
        if params:
            kwargs["params"] = params
        try:
            session = self._authorized_session()
            response = getattr(session, method.lower())(url, **kwargs)
        except TRANSPORT_ERRORS as e:
            raise transport_error(e) from e
        status_code = getattr(response, "status_code", 0)
        if allow_missing and status_code == 404:
            return None
        if status_code >= 400:
            raise error_from_response(response)
        if status_code == 204:
            return {}
        try:
            data = response.json()
        except ValueError as e:
            raise GcpApiError(f"the response of {url} is not JSON: {e}", status_code) from e
        if not isinstance(data, dict):
            raise GcpApiError(f"the response of {url} is not a JSON object", status_code)
        return data

    def post(
        self, url: str, body: Optional[Dict[str, Any]] = None, params: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Any]:
        result = self.request("POST", url, body=body, params=params)
        assert result is not None
        return result

    def get(
        self, url: str, params: Optional[Dict[str, Any]] = None, allow_missing: bool = False
    ) -> Optional[Dict[str, Any]]:
        """GET url; with allow_missing, None when the resource does not exist (HTTP 404)."""
        return self.request("GET", url, params=params, allow_missing=allow_missing)

    def delete(self, url: str, params: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = self.request("DELETE", url, params=params)
        assert result is not None
        return result

    def wait_operation(self, operation: Dict[str, Any], timeout: float, url: Optional[str] = None) -> Dict[str, Any]:
        """Poll a Compute Engine operation until its status is DONE; the finished operation.

        The operation is read again at ``url``, else at its ``selfLink``. Raises GcpApiError
        with the operation's own errors when it finished with ``error.errors[]``, and when it is
        not DONE after ``timeout`` seconds (status ``TIMEOUT``; the operation goes on at Google).
        A few transient polling errors in a row (no response, HTTP 429 or 5xx) are retried.
        """
        url = url or operation.get("selfLink")
        deadline = time.monotonic() + timeout
        delay = POLL_INITIAL
        transient = 0
        while operation.get("status") != "DONE":
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GcpApiError(
                    f"timed out after {timeout:g}s waiting for operation {operation.get('name', '?')} "
                    f"({operation.get('operationType', 'operation')} of {operation.get('targetLink', '?')}), "
                    f"still {operation.get('status', 'PENDING')}; it may still complete: run again to see the result "
                    "(or raise wait_timeout)",
                    status="TIMEOUT",
                )
            if not url:
                raise GcpApiError(f"operation {operation.get('name', '?')} has no selfLink to poll")
            time.sleep(min(delay, remaining))
            delay = min(delay * POLL_FACTOR, POLL_MAX)
            try:
                polled = self.get(url)
            except GcpApiError as e:
                transient += 1
                if is_transient(e) and transient < POLL_TRANSIENT_ERRORS:
                    continue
                e.message = f"polling operation {operation.get('name', '?')}: {e.message}"
                raise
            transient = 0
            if polled is not None:
                operation = polled
        error = operation_error(operation)
        if error is not None:
            raise error
        return operation
