"""``[batchtasks] local_roots``: reading the setting, and the containment rules on paths and templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks import config
from airflow_batchtasks.storage.local_roots import check_local_path, inside, literal_folder, template_inside
from airflow_batchtasks.storage.paths import PathEscapes


def test_the_setting_lists_absolute_folders(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", raising=False)
    assert config.local_roots() == ()
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", " /srv/outbox/ ,, /srv/in/../inbox")
    assert config.local_roots() == ("/srv/outbox", "/srv/inbox")
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", "/srv/outbox,outbox")
    with pytest.raises(ValueError, match=r"local_roots must list absolute folders, not outbox"):
        config.local_roots()


@pytest.mark.parametrize(("template", "folder"), [
    ("/srv/out/{{ params.sub }}", "/srv/out"),
    ("/srv/out_{{ ds }}", "/srv"),
    ("/srv/out/../../etc", "/etc"),
    ("{{ params.dir }}/x", ""),
    ("out/x", ""),
])
def test_the_literal_folder_of_a_template(template: str, folder: str) -> None:
    assert literal_folder(template) == folder


def test_inside_compares_whole_segments() -> None:
    assert inside("/srv/out", ["/srv/out/"]) and inside("/srv/out/a/b", ["/srv/out"])
    assert not inside("/srv/outbox", ["/srv/out"]) and not inside("/srv", ["/srv/out"])
    assert not inside("out", ["/srv/out"]) and not template_inside("/srv/out/{{ x }}", [])


def test_at_run_time_links_are_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "door").symlink_to(outside)
    monkeypatch.delenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", raising=False)
    assert check_local_path(str(outside), "x") == str(outside), "no roots: nothing is checked"
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__LOCAL_ROOTS", str(root))
    assert check_local_path(str(root / "a" / "new"), "x") == str(root / "a" / "new")
    with pytest.raises(PathEscapes, match=r"^x: local path .*door/f` \(really `.*outside/f`\) is outside"):
        check_local_path(str(root / "door" / "f"), "x")
    assert check_local_path(str(outside), "x", also=(str(outside),)) == str(outside)
