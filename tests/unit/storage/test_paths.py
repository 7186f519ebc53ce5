"""Folder names in staging/archive, and the checks that keep rendered destination paths in their folder."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_batchtasks.storage.paths import (
    PathEscapes,
    archive_segment,
    archived_file,
    check_destination_path,
    check_file_name,
    destination_folder,
    legacy_segments,
    safe_segment,
)

MD5 = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__ARCHIVE_URL", f"file://{tmp_path}/archive")
    return tmp_path / "archive"


def test_task_names_that_differ_get_different_folders() -> None:
    """``x`` and ``x.`` shared one archive folder (their records mixed, a retry skipped as 'already sent')."""
    assert archive_segment("x") == "x"
    assert archive_segment("x.") != archive_segment("x")
    assert archive_segment("x..") not in (archive_segment("x"), archive_segment("x."))


def test_existing_folders_keep_their_names() -> None:
    for value in ("daily_sales", "a.b-c_1", "manual__2026-11-20T10:00:00.123456+00:00",
                  "scheduled__2026-11-20T06:00:00+00:00", "manual__2026-12-03T17:40:49.5+00:00_AbC12xyz"):
        assert archive_segment(value) == safe_segment(value)
        assert legacy_segments(value) == []


def test_a_run_id_spelled_like_a_cleaned_airflow_run_id_does_not_share_its_folder() -> None:
    airflow_id = "manual__2026-11-20T10:00:00+00:00"
    chosen = "manual__2026-11-20T10_00_00_00_00"  # what a caller of the trigger API may pick
    assert archive_segment(chosen) != archive_segment(airflow_id)
    assert legacy_segments(chosen) == [safe_segment(chosen)]


@pytest.mark.parametrize("run_id", ["..", ".", "../../etc", "a/b", "/abs", "a\\b", "..~x", "x" * 250, "é:ü"])
def test_caller_chosen_run_ids_stay_one_segment_under_the_archive(run_id: str, archive) -> None:
    segment = archive_segment(run_id)
    assert "/" not in segment and "\\" not in segment and segment not in (".", "..")
    path = archived_file("task", run_id, MD5, "out.csv")
    assert path.path.startswith(f"{archive}/task/")
    assert path.path.count("/") == f"{archive}/task/r/0123456789ab/out.csv".count("/")


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_archive_segment_is_injective(a: str, b: str) -> None:
    if a != b:
        assert archive_segment(a) != archive_segment(b)
    segment = archive_segment(a)
    assert segment == safe_segment(segment) or "~" in segment


@pytest.mark.parametrize("name", ["../x.csv", "a/b.csv", "a\\b.csv", ".hidden", "..", "", "x\x00.csv"])
def test_file_names_with_a_folder_are_refused(name: str, archive) -> None:
    with pytest.raises(PathEscapes, match="must be a plain name"):
        check_file_name(name)
    with pytest.raises(PathEscapes):
        archived_file("task", "run", MD5, name)


@pytest.mark.parametrize(("template", "folder"), [
    ("/data/out", "/data/out"),
    ("/data/out/{{ params.sub }}", "/data/out/"),
    ("/data/out_{{ ds }}/x", "/data/"),
    ("/data/{% if params.x %}a{% endif %}", "/data/"),
    ("/data/{# note #}out", "/data/"),
    ("{{ params.root }}/out", ""),
    ("in_{{ ds }}", ""),
    ("incoming/{{ ds }}", "incoming/"),
])
def test_the_folder_a_template_names_is_its_literal_part(template: str, folder: str) -> None:
    assert destination_folder(template) == folder


@pytest.mark.parametrize(("template", "rendered"), [
    ("/data/out/{{ params.sub }}", "/data/out/eu"),
    ("/data/out/{{ params.sub }}", "/data/out/eu/2026"),
    ("/data/out_{{ ds }}", "/data/out_2026-11-20"),
    ("{{ params.sub }}/in", "eu/in"),
    ("/data/out", "/data/out"),
])
def test_paths_inside_their_folder_pass(template: str, rendered: str) -> None:
    assert check_destination_path(template, rendered) == rendered


@pytest.mark.parametrize(("template", "rendered", "why"), [
    ("/data/out/{{ params.sub }}", "/data/out/../../home/dags", "contains `..`"),
    ("/data/out/{{ params.sub }}", "/data/out/..", "contains `..`"),
    ("/data/out/{{ params.sub }}", "/data/out/a\\..\\..\\x", "contains `..`"),
    ("/data/../etc", "/data/../etc", "contains `..`"),
    ("/data/out_{{ ds }}", "/data/out_x\x00", "NUL"),
    ("{{ params.root }}/out", "/home/dags/out", "absolute but the definition names no folder"),
    ("{{ params.root }}/out", "C:/x/out", "absolute"),
])
def test_paths_that_leave_their_folder_are_refused(template: str, rendered: str, why: str) -> None:
    with pytest.raises(PathEscapes, match=why):
        check_destination_path(template, rendered)


def test_a_template_cannot_be_outgrown_by_a_prefix_trick() -> None:
    # the literal part ends the folder at its last "/": "/data/outside" is not under "/data/out/"
    with pytest.raises(PathEscapes, match="outside `/data/out/`"):
        check_destination_path("/data/out/{{ params.sub }}", "/data/outside")
