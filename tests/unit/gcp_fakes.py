"""What the GCP module tests share: a stand-in for a requests.Response of a Google API."""

from __future__ import annotations

import copy
import json


class FakeResponse:
    def __init__(self, status_code, body):
        self.status_code = status_code
        self._body = body
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.reason = "Error" if status_code >= 400 else "OK"

    def json(self):
        if isinstance(self._body, str):
            return json.loads(self._body)
        return copy.deepcopy(self._body)
