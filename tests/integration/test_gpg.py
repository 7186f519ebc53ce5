"""GPG encryption in the package step with the real ``gpg``: round trips through a test keyring.

The vendor's key pair lives in a keyring of this test module only; the pipeline gets the public half
through an Airflow connection or variable, encrypts, zips, delivers; the test decrypts what was
delivered with the private half and compares it with the plain file.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.pipeline import archived_records, migrate_metadata_db, run_definition, set_connection
from tests.servers._common import require_binary

pytestmark = pytest.mark.integration

PLAIN = b"id,name\n1,item 1\n2,item 2\n3,item 3\n"
RETRIES = "retries: {count: 3, delay: 1s}\n"


@dataclass
class Keyring:
    home: Path
    vendor_public: str
    other_public: str
    expired_public: str

    def decrypt(self, data: bytes) -> bytes:
        import gnupg

        result = gnupg.GPG(gnupghome=str(self.home)).decrypt(data)
        assert result.ok, result.status
        return bytes(result.data)


@pytest.fixture(scope="module", autouse=True)
def _metadata_db() -> None:
    migrate_metadata_db()


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    """Key pairs without passphrase in a throwaway GNUPGHOME: vendor, other, and old (expired after 1 s)."""
    gpg = require_binary("gpg", "gnupg")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    exported = {}
    for uid, expires in (("Vendor Ltd <vendor@example.com>", "never"), ("Other <other@example.com>", "never"),
                         ("Old <old@example.com>", "seconds=1")):
        subprocess.run([gpg, "--homedir", str(home), "--batch", "--passphrase", "", "--quick-gen-key", uid,
                        "future-default", "default", expires], check=True, capture_output=True)
        email = uid.split("<")[1].rstrip(">")
        exported[email] = subprocess.run([gpg, "--homedir", str(home), "--armor", "--export", email],
                                         check=True, capture_output=True, text=True).stdout
    time.sleep(1.1)  # let the old key expire
    yield Keyring(home, exported["vendor@example.com"], exported["other@example.com"], exported["old@example.com"])
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], check=False, capture_output=True)


@pytest.fixture
def items(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "items.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table items (id integer, name text)")
        conn.executemany("insert into items values (?, ?)", [(1, "item 1"), (2, "item 2"), (3, "item 3")])
    set_connection(monkeypatch, "items_db", conn_type="sqlite", host=str(db))
    return tmp_path / "out"


def task(name: str, out: Path, gpg: str, extra_output: str = "", retries: str = "") -> str:
    return (
        f"kind: task\nname: {name}\nschedule: none\n{retries}"
        "source: {type: sql, conn_id: items_db, query: 'select * from items order by id'}\n"
        f"output: {{name: items.csv, gpg: {gpg}{extra_output}}}\n"
        f"destinations: [{{type: local, path: '{out}'}}]\n"
    )


def failure_record(tmp_path: Path, dag_id: str, step: str) -> dict:
    import json

    [path] = (tmp_path / "staging" / dag_id).glob(f"*/failures/{step}.json")
    return json.loads(path.read_text())


def test_encrypted_then_zipped_decrypts_to_the_original(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyring: Keyring, items: Path,
) -> None:
    set_connection(monkeypatch, "vendor_key", conn_type="generic", extra={"public_key": keyring.vendor_public})
    result = run_definition(tmp_path, monkeypatch, task(
        "gpg_zip", items, "{recipient: Vendor@Example.com, key_conn_id: vendor_key}", ", zip: {name: items.zip}",
    ), "gpg_zip")

    assert result.state == "success", result.steps
    delivered = items / "items.zip"
    assert [p.name for p in items.iterdir()] == ["items.zip"]
    with zipfile.ZipFile(delivered) as archive:
        [member] = archive.infolist()
        assert member.filename == "items.csv.gpg"
        assert member.compress_type == zipfile.ZIP_STORED  # ciphertext is not deflated again
        ciphertext = archive.read(member)
    assert PLAIN not in ciphertext and b"item 1" not in ciphertext
    assert keyring.decrypt(ciphertext) == PLAIN
    [record] = archived_records(result.archive)
    assert record["name"] == "items.zip"
    assert record["md5"] == hashlib.md5(delivered.read_bytes()).hexdigest()
    assert record["size"] == delivered.stat().st_size and record["rows"] == 3


@pytest.mark.parametrize("source", ["connection password", "variable"])
def test_key_from_a_connection_password_or_a_variable_gpg_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyring: Keyring, items: Path, source: str,
) -> None:
    if source == "variable":
        monkeypatch.setenv("AIRFLOW_VAR_VENDOR_PUBLIC_KEY", keyring.vendor_public)
        gpg = "{recipient: vendor@example.com, key_variable: vendor_public_key, compress_level: 0}"
    else:
        set_connection(monkeypatch, "vendor_key_pw", conn_type="generic", password=keyring.vendor_public)
        gpg = "{recipient: vendor@example.com, key_conn_id: vendor_key_pw}"
    result = run_definition(tmp_path, monkeypatch, task("gpg_plain", items, gpg), "gpg_plain")

    assert result.state == "success", result.steps
    delivered = items / "items.csv.gpg"
    assert [p.name for p in items.iterdir()] == ["items.csv.gpg"]
    assert keyring.decrypt(delivered.read_bytes()) == PLAIN
    assert archived_records(result.archive)[0]["md5"] == hashlib.md5(delivered.read_bytes()).hexdigest()


def test_a_key_of_someone_else_fails_at_once_without_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyring: Keyring, items: Path,
) -> None:
    set_connection(monkeypatch, "mismatched_key", conn_type="generic", extra={"public_key": keyring.other_public})
    result = run_definition(tmp_path, monkeypatch, task(
        "gpg_wrong", items, "{recipient: vendor@example.com, key_conn_id: mismatched_key}", retries=RETRIES,
    ), "gpg_wrong")

    assert result.state == "failed"
    assert result.steps == {"extract": "success", "package": "failed", "deliver": "upstream_failed"}
    record = failure_record(tmp_path, "gpg_wrong", "package")
    assert record["try_number"] == 1 and record["retryable"] is False
    assert record["error"] == ("output.gpg.recipient: `vendor@example.com` is not a user id of the key in connection "
                               "`mismatched_key` (its user ids: Other <other@example.com>)")
    assert not items.exists() or not list(items.iterdir())


def test_an_expired_key_fails_at_once_with_gpg_s_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyring: Keyring, items: Path,
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_OLD_KEY", keyring.expired_public)
    result = run_definition(tmp_path, monkeypatch, task(
        "gpg_expired", items, "{recipient: old@example.com, key_variable: old_key}", retries=RETRIES,
    ), "gpg_expired")

    assert result.steps["package"] == "failed"
    record = failure_record(tmp_path, "gpg_expired", "package")
    assert record["try_number"] == 1 and not record["retryable"]
    assert record["error"].startswith(
        "output.gpg: encryption to old@example.com failed: invalid recipient: key expired")
    assert "Unusable public key" in record["error"] and "[GNUPG:]" not in record["error"]


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"conn_type": "generic"}, "connection `no_key` holds no armored public key"),
        ({"conn_type": "generic", "password": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n"},
         "the key in connection `no_key` could not be imported"),
        (None, "output.gpg.key_conn_id: The conn_id `no_key` isn't defined"),
    ],
)
def test_a_missing_or_broken_key_fails_at_once_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: Path, connection: dict | None, message: str,
) -> None:
    if connection is not None:
        set_connection(monkeypatch, "no_key", **connection)
    result = run_definition(tmp_path, monkeypatch, task(
        "gpg_nokey", items, "{recipient: vendor@example.com, key_conn_id: no_key}", retries=RETRIES,
    ), "gpg_nokey")

    assert result.steps["package"] == "failed"
    record = failure_record(tmp_path, "gpg_nokey", "package")
    assert record["try_number"] == 1 and not record["retryable"]
    assert message in record["error"]


def test_a_local_file_is_read_by_gpg_itself_a_remote_one_streamed(
    keyring: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a staged local file is handed to gpg by its path (its name is in the packet, as with `gpg -e FILE`);
    # a file on object storage is streamed through gpg's stdin; both decrypt to the same bytes
    import logging

    import gnupg
    from airflow.sdk import ObjectStoragePath

    from airflow_batchtasks.formats.gpg import GpgSpec, encryptor

    monkeypatch.setenv("AIRFLOW_VAR_VENDOR_KEY", keyring.vendor_public)
    data = PLAIN * 20_000  # ~700 KB: more than a pipe's buffer
    local = tmp_path / "items.csv"
    local.write_bytes(data)


    class Remote:  # a staged file on object storage as Encryptor sees it: a protocol other than file, open()
        protocol = "s3"

        def open(self, mode: str) -> Any:
            return open(local, mode)

    remote = Remote()
    spec = GpgSpec.from_dict({"recipient": "vendor@example.com", "key_variable": "vendor_key"})
    with encryptor(spec, logging.getLogger("test")) as gpg:
        gpg.encrypt(ObjectStoragePath(f"file://{local}"), ObjectStoragePath(f"file://{tmp_path}/local.gpg"))
        gpg.encrypt(remote, ObjectStoragePath(f"file://{tmp_path}/remote.gpg"))
    for name, embedded in (("local.gpg", "items.csv"), ("remote.gpg", "")):
        ciphertext = (tmp_path / name).read_bytes()
        assert keyring.decrypt(ciphertext) == data
        status = gnupg.GPG(gnupghome=str(keyring.home)).decrypt(ciphertext).stderr  # gpg's [GNUPG:] lines
        [plaintext] = [line.split()[4:] for line in status.splitlines() if line.startswith("[GNUPG:] PLAINTEXT ")]
        assert plaintext == ([embedded] if embedded else []), status
