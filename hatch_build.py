"""Hatch build hook: rebuild the YAML editor bundle of the pages before a wheel is packed.

The authoring pages load ``airflow_batchtasks/plugins/static/editor.js`` and ``editor.css``, built by
esbuild from the npm project in ``ui/editor`` (CodeMirror 6 and the ``yaml`` package, exact versions
in its package-lock.json). The built files are committed, so:

- when ``npm`` is on PATH and ``BATCHTASKS_SKIP_EDITOR_BUILD`` is not set, this hook runs
  ``npm ci`` (only when ``ui/editor/node_modules`` is missing) and ``npm run build`` there before
  the wheel is packed, so the wheel carries a bundle built from the sources it ships with;
- without ``npm`` (or with ``BATCHTASKS_SKIP_EDITOR_BUILD`` set, or in a source tree without
  ``ui/editor``) the committed bundle is packed as it is. If ``npm ci`` cannot fetch the packages
  (offline), the committed bundle is used too, with a warning; a failing ``npm run build`` fails the
  build.

Editable installs (``uv sync``, ``pip install -e``) serve the files from the source tree and skip
the hook. Users never need Node: it is only a build tool, the wheel holds plain static files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SKIP_VARIABLE = "BATCHTASKS_SKIP_EDITOR_BUILD"


class EditorBundleHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        project = Path(self.root) / "ui" / "editor"
        if os.environ.get(SKIP_VARIABLE):
            self._say(f"{SKIP_VARIABLE} is set: packing the committed editor bundle")
            return
        npm = shutil.which("npm")
        if npm is None:
            self._say("npm is not on PATH: packing the committed editor bundle")
            return
        if not (project / "package.json").is_file():
            self._say("no ui/editor in this source tree: packing the committed editor bundle")
            return
        if not (project / "node_modules").is_dir():
            installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=project, check=False)
            if installed.returncode != 0:
                self._say("`npm ci` failed (offline?): packing the committed editor bundle", warn=True)
                return
        subprocess.run([npm, "run", "build"], cwd=project, check=True)

    def _say(self, text: str, warn: bool = False) -> None:
        print(f"hatch_build.py: {'warning: ' if warn else ''}{text}", file=sys.stderr)
