"""Fixtures for e2e tests against a real Airflow (see ``tests/e2e/airflow_instance.py``).

Nothing here starts Airflow on its own: a test asks for ``start_airflow`` (its own instance, own env) or
``shared_airflow`` (one instance per session, started on first use, for tests that only add DAG files).
On failure the component log tails are printed, because "run failed" alone is useless in CI.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.e2e.airflow_instance import AirflowInstance, StartAirflow  # noqa: E402


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the item so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"_e2e_rep_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"_e2e_rep_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


@pytest.fixture
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh, empty AIRFLOW_HOME."""
    return tmp_path_factory.mktemp("airflow_home")


@pytest.fixture
def start_airflow(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[StartAirflow]:
    """Factory ``start_airflow(dags_folder, env=None, **kw)`` -> started instance; stopped at teardown."""
    started: list[AirflowInstance] = []

    def start(dags_folder: Path, env: Mapping[str, str] | None = None, **kw: object) -> AirflowInstance:
        instance = AirflowInstance(tmp_path_factory.mktemp("airflow_home"), dags_folder, env=env, **kw)  # type: ignore[arg-type]
        started.append(instance)
        instance.start()
        return instance

    yield start
    for instance in started:
        if _failed(request):
            print(f"\n--- Airflow process logs ({instance.home}) ---\n{instance.process_logs(120)}")
        instance.stop(timeout=5)  # throwaway home: no need to wait long for a graceful exit


@pytest.fixture(scope="session")
def shared_airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowInstance]:
    """One Airflow for the whole session (started lazily). Tests drop DAG files into ``.dags_folder``."""
    root = tmp_path_factory.mktemp("shared_airflow")
    with AirflowInstance(root / "home", root / "dags") as instance:
        yield instance


#: Debian's Chromium (`playwright install` cannot download here); dev/test.sh installs it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for one test module (the browser tests' pages, logins and themes are theirs)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (dev/test.sh installs it)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
