"""The documentation stays true to the code and the repository stays self-contained.

- the generated reference pages equal what ``dev/docs_reference.py`` produces from the code now;
- no tracked file points outside the repository;
- every relative link of the README reaches a file of the repository.

(``mkdocs build --strict`` in ``dev/test.sh`` checks the links between the docs pages themselves.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

from dev import docs_reference

REPO = Path(__file__).resolve().parents[2]
REGENERATE = "run `uv run python dev/docs_reference.py`"


@pytest.mark.parametrize(
    ("page", "generate"),
    [
        (docs_reference.DEFINITIONS_PAGE, docs_reference.definitions_page),
        (docs_reference.REST_API_PAGE, docs_reference.rest_api_page),
    ],
    ids=["definitions", "rest-api"],
)
def test_generated_reference_is_current(page: Path, generate) -> None:
    assert page.exists(), f"{page.relative_to(REPO)} is missing: {REGENERATE}"
    committed = page.read_text(encoding="utf-8")
    assert committed == generate(), f"{page.relative_to(REPO)} is out of date with the code: {REGENERATE}"


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in out.decode().split("\0") if name]


# Built from pieces so this file does not match itself.
OUTSIDE = ["../" + "shared", "/" + "work/"]


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        data = path.read_bytes()
        for needle in OUTSIDE:
            if needle.encode() in data:
                offenders.append(f"{path.relative_to(REPO)}: {needle}")
    assert not offenders, "files name paths outside the repository:\n" + "\n".join(offenders)


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def test_readme_relative_links_reach_files() -> None:
    readme = REPO / "README.md"
    broken = []
    for target in LINK.findall(readme.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http(s):, mailto:, or an anchor of the README itself
        relative = unquote(target.split("#", 1)[0])
        if not (readme.parent / relative).exists():
            broken.append(target)
    assert not broken, f"README.md links to files that do not exist: {broken}"
