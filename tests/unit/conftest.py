# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make this collection importable as ``ansible_collections.mlinfra.gpu_platform`` in unit tests.

The repository is exposed to Ansible through ``<repo>/.collections/ansible_collections/mlinfra/
gpu_platform -> <repo>``; amazon.aws and the other dependencies live in the venv's
``site-packages/ansible_collections``. Both roots must resolve under the same
``ansible_collections`` namespace, so (like ansible-test does) we install ansible-core's
collection finder over ``<repo>/.collections`` plus everything on ``sys.path``.
"""

from __future__ import annotations

import os
import sys

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".collections")

if not os.path.isdir(os.path.join(COLLECTIONS_ROOT, "ansible_collections", "mlinfra", "gpu_platform")):
    raise RuntimeError(
        f"{COLLECTIONS_ROOT}/ansible_collections/mlinfra/gpu_platform is missing: "
        "it must be a symlink to the repository root (see scripts/bootstrap.sh)"
    )

if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
# Helpers shared by the unit tests (gcp_fakes.py).
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _install_collection_finder() -> None:
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    existing = _AnsibleCollectionFinder._find_existing_finder()
    if existing is not None:
        return
    # scan_sys_paths (default) adds site-packages, where amazon.aws & co. are installed.
    _AnsibleCollectionFinder(paths=[COLLECTIONS_ROOT])._install()


_install_collection_finder()
