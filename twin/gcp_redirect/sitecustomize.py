"""Test-only: send this Python process's Google API calls to the twin's GCP emulator.

Put this directory on ``PYTHONPATH`` and set ``TWIN_GCP_URL`` (for example
``http://127.0.0.1:7000``, the twin's ``twin/gcp_api.py``); Python imports this module at start-up
(``site`` imports ``sitecustomize``). Then, in that process and its children that inherit the
environment (ansible-playbook, its AnsiballZ module processes on the local connection,
ansible-inventory):

* every request that ``requests`` sends to ``http(s)://<anything>.googleapis.com/...`` goes to
  ``TWIN_GCP_URL`` with the same path and query, the original host in the
  ``X-Twin-Original-Host`` header, and no proxy. ``requests.adapters.HTTPAdapter.send`` is
  patched, so google-auth's ``AuthorizedSession`` (every google.cloud module, the gcp_compute
  inventory plugin, this collection's GCP modules) and google-auth's token requests are covered;
* a request to any other host that is not loopback (127.0.0.0/8, ::1, localhost) raises
  ``requests.exceptions.ConnectionError``: nothing leaves the machine by accident;
* when ``TWIN_GCP_URL`` is set but is not a loopback ``http://`` URL, every request is refused.

When ``TWIN_GCP_URL`` is unset, nothing is patched (only the chain-loading below happens).
``requests`` is patched lazily: an import hook waits for ``requests.adapters`` to be imported, so
processes that never use requests do not pay for it, and a Python without requests is unaffected.
Only ``requests`` is redirected: urllib3, http.client or urllib used directly are not (botocore,
the kubernetes client: they have their own endpoints settings).

This is for the twin and the tests only. Never put it on the PYTHONPATH of a real deployment:
it would send real Google API calls, with their credentials, to a local port.

A ``sitecustomize`` that this one shadows (the next one on ``sys.path``, e.g. a distribution's)
is loaded too.
"""

from __future__ import annotations

import os
import sys

_ENV = "TWIN_GCP_URL"
_HEADER = "X-Twin-Original-Host"
_HERE = os.path.dirname(os.path.abspath(__file__))


def _is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _twin_target(url: str) -> tuple[str, str] | None:
    """(http://host:port, path prefix) of a usable TWIN_GCP_URL, or None when it is not a loopback http URL."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme != "http" or not _is_loopback(parts.hostname or ""):
        return None
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def route(url: str, twin_url: str) -> tuple[str, str | None]:
    """Where a request for url goes: ("redirect", the twin's URL with the same path and query),
    ("pass", None) for loopback, or ("refuse", the error message)."""
    from urllib.parse import urlsplit, urlunsplit

    target = _twin_target(twin_url)
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if target is None:
        return "refuse", (f"twin GCP redirect: {_ENV}={twin_url!r} is not a loopback http URL "
                          f"(http://127.0.0.1:PORT): refusing every request, including {host or url}")
    if parts.scheme in ("http", "https") and (host == "googleapis.com" or host.endswith(".googleapis.com")):
        base, prefix = target
        return "redirect", urlunsplit(("http", base.split("://", 1)[1], prefix + (parts.path or "/"), parts.query, ""))
    if parts.scheme in ("http+unix", "http+docker") or _is_loopback(host):
        return "pass", None
    return "refuse", (f"twin GCP redirect: refusing {host or url}: only *.googleapis.com (redirected to the twin) "
                      "and loopback are allowed")


def _patch_requests(adapters_module) -> None:
    adapter_cls = adapters_module.HTTPAdapter
    if getattr(adapter_cls.send, "_twin_gcp_redirect", False):
        return
    original = adapter_cls.send

    def send(self, request, *args, **kwargs):
        twin_url = os.environ.get(_ENV, "")
        if twin_url:
            verdict, detail = route(request.url, twin_url)
            if verdict == "refuse":
                from requests.exceptions import ConnectionError as RequestsConnectionError

                raise RequestsConnectionError(detail, request=request)
            if verdict == "redirect":
                from urllib.parse import urlsplit

                request.headers[_HEADER] = urlsplit(request.url).netloc
                request.url = detail
            if request.url.startswith("http://"):  # the twin or another loopback URL: never through a proxy
                if len(args) >= 5:  # send(request, stream, timeout, verify, cert, proxies)
                    args = args[:4] + ({},) + args[5:]
                else:
                    kwargs["proxies"] = {}
        return original(self, request, *args, **kwargs)

    send._twin_gcp_redirect = True  # type: ignore[attr-defined]
    send.__wrapped__ = original  # type: ignore[attr-defined]
    adapter_cls.send = send


class _PatchingLoader:  # not importlib.abc: importing it costs ~20 ms per process
    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _patch_requests(module)

    def __getattr__(self, name):  # get_source, get_filename ... of the real loader
        return getattr(self._loader, name)


class _RequestsHook:
    """Patches requests.adapters right after it is imported, then removes itself."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "requests.adapters":
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        if spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


def _install() -> None:
    if not os.environ.get(_ENV):
        return
    adapters = sys.modules.get("requests.adapters")
    if adapters is not None:
        _patch_requests(adapters)
    else:
        sys.meta_path.insert(0, _RequestsHook())


def _chain_load() -> None:
    """Run the sitecustomize this module shadows, if there is one further down sys.path."""
    from importlib.machinery import PathFinder  # already loaded by the import system: free

    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or not spec.origin or os.path.dirname(os.path.abspath(spec.origin)) == _HERE:
        return
    try:
        import importlib.util

        module = importlib.util.module_from_spec(spec)
        sys.modules["_twin_shadowed_sitecustomize"] = module
        spec.loader.exec_module(module)
    except Exception as exc:  # what site.py does with a failing sitecustomize
        print(f"Error in sitecustomize (shadowed by {__file__}): {exc!r}", file=sys.stderr)


_install()
_chain_load()
