"""Build-time install of the pages' browser assets from the npm registry (never a CDN).

``python -m maillage.web.assets`` runs ``npm ci`` on the pinned ``web/npm/package-lock.json``
and copies the files the pages load into ``web/static/vendor/`` (git-ignored). The Makefile's
set-up calls it; at run time the application is offline.
"""

from __future__ import annotations

import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

WEB = Path(str(files("maillage.web")))
NPM_DIR = WEB / "npm"
VENDOR = WEB / "static" / "vendor"
#: Served to browsers: installed path under node_modules → name under /static/vendor/.
SERVED = {"htmx.org/dist/htmx.min.js": "htmx.min.js"}
#: Used only by the browser tests (injected into pages, not served).
AXE = NPM_DIR / "node_modules" / "axe-core" / "axe.min.js"


def build() -> None:
    """Install the locked packages (without their install scripts) and copy what is served."""
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to install the web assets (Node.js 18 or later)")
    subprocess.run(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NPM_DIR,
        check=True,
    )
    VENDOR.mkdir(parents=True, exist_ok=True)
    for source, name in SERVED.items():
        shutil.copyfile(NPM_DIR / "node_modules" / source, VENDOR / name)


if __name__ == "__main__":
    build()
