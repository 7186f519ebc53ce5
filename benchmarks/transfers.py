"""FTP and SMB transfer speed of airflow-batchtasks, side by side with curl, smbclient and the Airflow hooks.

Starts the loopback servers the tests use (``tests/servers``: pyftpdlib and a private Samba
``smbd``), writes a file of random data (1 GiB by default) and measures, each case in its own
child process, paired with its group's reference in the same round (A B A B):

FTP (pyftpdlib, passive mode, binary):

* upload: ``curl -T`` (reference); **ours**, the deliver step's own call
  (``destinations.put_file`` -> ``FtpFiles.put``: ``.part`` name, ``STOR``, ``RNFR``/``RNTO``, with
  the step's progress counting); Airflow ``FTPHook.store_file`` with its defaults (8 KiB blocks);
  ``ftplib.storbinary`` alone with 1 MiB blocks (the client library's floor);
* download: ``curl -o`` (reference); **ours**, the file source's own call
  (``FileExtractOperator._fetch`` through ``FtpFiles.open``, ``format: keep``); ``FTPHook.retrieve_file``
  with its defaults; ``ftplib.retrbinary`` alone with 1 MiB blocks (floor).

SMB (smbd, SMB 3.1.1, signed, not encrypted, as smbprotocol connects by default):

* upload: ``smbclient -c put`` with ``--client-protection=sign`` (reference, the same signing as
  smbprotocol's default ``require_signing``); **ours** (``put_file`` -> ``SmbFiles.put``: ``.part``,
  write, rename); ``SambaHook.push_from_local`` with its defaults; smbprotocol's ``smbclient.open_file``
  + ``copyfileobj`` with 1 MiB buffers (the library's floor);
* download: ``smbclient -c get`` (reference); **ours** (``_fetch`` through ``SmbFiles.open``);
  ``SambaHook.open_file`` + ``copyfileobj`` with their defaults; the library's floor.

Every round checks what each run produced: the uploaded file read back from the server's own
folder (size and md5 against the source), or the downloaded local file (size and md5). A run with
a wrong output is reported as failed, not timed. Time is the transfer inside the child (connect,
log in, transfer, rename; not interpreter start and imports); the CLIs are timed whole. Peak RSS
is the child's (``wait4``), CPU is the child's (client) and the server process's with its reaped
session children (server).

``uv run python benchmarks/transfers.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_and_deliver import _md5, _own_cpu, process_cpu, run_child  # noqa: E402  (the same child runner)

FTP_CONN, SMB_CONN = "bench_ftp", "bench_smb"
SOURCE = "data.bin"  # the file every download fetches, in the servers' "src" folder
BLOCK = 1 << 20  # the floors' block size (ours uses storage.records.CHUNK, also 1 MiB)

# Targets (issue 14, part 2), checked at the end.
MAX_VS_REFERENCE = 1.5
MIN_FTP_UPLOAD_SPEEDUP = 2.0


@dataclass
class Case:
    key: str
    label: str
    group: str  # "FTP upload", "FTP download", "SMB upload", "SMB download"
    command: list[str]
    check: Path  # the file this case produces: on the server's disk (uploads) or local (downloads)
    problems: list[str] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    server_cpu: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    server_pid: int | None = None

    @property
    def python(self) -> bool:
        return self.command[0] == sys.executable


# --------------------------------------------------------------------------- children


def child(args: argparse.Namespace) -> None:
    """Run one transfer; write its seconds to ``args.result``. Imports happen before the clock starts."""
    _warm_up()
    kind = args.child
    start, cpu_start = time.perf_counter(), _own_cpu()
    if kind == "imports":
        pass
    elif kind in ("ftp_ours_up", "smb_ours_up"):
        _ours_upload("ftp" if kind.startswith("ftp") else "smb", args)
    elif kind in ("ftp_ours_down", "smb_ours_down"):
        _ours_download("ftp" if kind.startswith("ftp") else "smb", args)
    elif kind == "ftp_hook_up":
        from airflow.providers.ftp.hooks.ftp import FTPHook

        hook = FTPHook(ftp_conn_id=FTP_CONN)
        hook.store_file(f"{args.remote_dir}/{args.name}", args.local)
        hook.close_conn()
    elif kind == "ftp_hook_down":
        from airflow.providers.ftp.hooks.ftp import FTPHook

        hook = FTPHook(ftp_conn_id=FTP_CONN)
        hook.retrieve_file(args.remote, args.local)
        hook.close_conn()
    elif kind in ("ftp_floor_up", "ftp_floor_down"):
        _ftp_floor(kind.endswith("up"), args)
    elif kind == "smb_hook_up":
        from airflow.providers.samba.hooks.samba import SambaHook

        with SambaHook(samba_conn_id=SMB_CONN) as hook:
            hook.push_from_local(f"{args.remote_dir}/{args.name}", args.local)
    elif kind == "smb_hook_down":
        from airflow.providers.samba.hooks.samba import SambaHook

        hook = SambaHook(samba_conn_id=SMB_CONN)
        with hook, hook.open_file(args.remote, mode="rb") as src, open(args.local, "wb") as dst:
            shutil.copyfileobj(src, dst)
    elif kind in ("smb_floor_up", "smb_floor_down"):
        _smb_floor(kind.endswith("up"), args)
    else:
        raise SystemExit(f"unknown child {kind}")
    seconds, cpu = time.perf_counter() - start, _own_cpu() - cpu_start
    Path(args.result).write_text(json.dumps({"seconds": seconds, "cpu": cpu}))


def _warm_up() -> None:
    """Imports and plugins a task process has loaded before its operator runs (kept out of the time)."""
    import airflow.sdk
    import smbclient  # noqa: F401
    from airflow.providers.ftp.hooks.ftp import FTPHook  # noqa: F401
    from airflow.providers.samba.hooks.samba import SambaHook  # noqa: F401

    from airflow_batchtasks.operators.file import FileExtractOperator  # noqa: F401
    from airflow_batchtasks.transports import destinations, ftp, smb  # noqa: F401

    probe = airflow.sdk.ObjectStoragePath(f"file://{tempfile.gettempdir()}/batchtasks-bench-warm-{os.getpid()}")
    with probe.open("wb") as fh:
        fh.write(b"warm")
    probe.unlink()


def _progress() -> Any:
    """The steps' progress counter, pushing nowhere (a task pushes at most every 3 s: negligible)."""
    from airflow_batchtasks.operators.progress import Progress

    return Progress(lambda _value: None, "bench")


def _ours_upload(kind: str, args: argparse.Namespace) -> None:
    """What the deliver step does for one file (operators/deliver.py): ``put_file`` of the staged file."""
    from airflow.sdk import ObjectStoragePath

    from airflow_batchtasks.operators.progress import CountingSource
    from airflow_batchtasks.transports.destinations import put_file

    spec = {"type": kind, "conn_id": FTP_CONN if kind == "ftp" else SMB_CONN, "path": args.remote_dir,
            "overwrite": True}  # fmt: skip
    src = ObjectStoragePath(f"file://{args.local}")
    put_file(CountingSource(src, os.path.getsize(args.local), _progress()), args.name, spec)


def _ours_download(kind: str, args: argparse.Namespace) -> None:
    """What the file source does for one matching file (operators/file.py ``_fetch``, ``format: keep``)."""
    from airflow.sdk import ObjectStoragePath

    from airflow_batchtasks.operators.file import FileExtractOperator
    from airflow_batchtasks.transports.registry import open_reader

    conn = FTP_CONN if kind == "ftp" else SMB_CONN
    operator = FileExtractOperator(task_id="bench", batch_task="bench", output_format={"format": "keep"},
                                   location={"type": kind, "conn_id": conn, "path": args.remote})  # fmt: skip
    operator._progress = _progress()
    reader = open_reader(kind, conn)
    try:
        operator._fetch(reader, args.remote, ObjectStoragePath(f"file://{args.local}"))
    finally:
        reader.close()


def _ftp_floor(upload: bool, args: argparse.Namespace) -> None:
    """ftplib alone, 1 MiB blocks, no temporary name: the client library's floor."""
    import ftplib  # nosec: B402 - the floor of the FTP path this benchmark measures

    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(FTP_CONN)
    ftp = ftplib.FTP()
    ftp.connect(conn.host, conn.port)
    ftp.login(conn.login, conn.password)
    if upload:
        with open(args.local, "rb") as fh:
            ftp.storbinary(f"STOR {args.remote_dir}/{args.name}", fh, BLOCK)
    else:
        with open(args.local, "wb") as fh:
            ftp.retrbinary(f"RETR {args.remote}", fh.write, BLOCK)
    ftp.quit()


def _smb_floor(upload: bool, args: argparse.Namespace) -> None:
    """smbprotocol's ``smbclient`` alone (signed, as by default), 1 MiB copies, no temporary name."""
    import smbclient
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(SMB_CONN)
    cache: dict[str, Any] = {}
    session = {"username": conn.login, "password": conn.password, "port": conn.port, "connection_cache": cache}

    def unc(path: str) -> str:
        return f"\\\\{conn.host}\\{conn.schema}" + path.replace("/", "\\")

    try:
        if upload:
            with open(args.local, "rb") as src, smbclient.open_file(unc(f"{args.remote_dir}/{args.name}"), "wb",
                                                                   **session) as dst:  # fmt: skip
                shutil.copyfileobj(src, dst, BLOCK)
        else:
            with smbclient.open_file(unc(args.remote), "rb", **session) as src, open(args.local, "wb") as dst:
                shutil.copyfileobj(src, dst, BLOCK)
    finally:
        smbclient.reset_connection_cache(connection_cache=cache)


# --------------------------------------------------------------------------- setup


def connections(ftp: Any, smb: Any) -> dict[str, str]:
    """Airflow connections from the environment, as a deployment may define them."""
    conns = {}
    if ftp is not None:
        conns[f"AIRFLOW_CONN_{FTP_CONN.upper()}"] = json.dumps({
            "conn_type": "ftp", "host": ftp.host, "port": ftp.port, "login": ftp.username, "password": ftp.password,
        })  # fmt: skip
    if smb is not None:
        conns[f"AIRFLOW_CONN_{SMB_CONN.upper()}"] = json.dumps({
            "conn_type": "samba", "host": smb.host, "port": smb.port, "login": smb.username,
            "password": smb.password, "schema": smb.share,
        })  # fmt: skip
    return conns


def build_cases(args: argparse.Namespace, work: Path, src: Path, ftp: Any, smb: Any) -> list[Case]:
    me = [sys.executable, str(Path(__file__).resolve())]
    imports = Case("imports", "a child that only imports (baseline)", "imports",
                   [*me, "--child", "imports", "--result", "{result}"], work / "none")  # fmt: skip
    cases = [imports]

    def py(kind: str, *extra: str) -> list[str]:
        return [*me, "--child", kind, *extra, "--result", "{result}"]

    def up(kind: str, server_root: Path) -> tuple[list[str], Path]:
        name = f"{kind}.bin"
        return py(kind, "--local", str(src), "--remote-dir", "/in", "--name", name), server_root / "in" / name

    def down(kind: str) -> tuple[list[str], Path]:
        local = work / f"{kind}.bin"
        return py(kind, "--remote", f"/src/{SOURCE}", "--local", str(local)), local

    floors = args.floors
    if ftp is not None:
        url = f"ftp://{ftp.host}:{ftp.port}"
        user = f"{ftp.username}:{ftp.password}"
        curl = shutil.which("curl") or "curl"
        cases += [
            Case("ftp_curl_up", "`curl -T` (reference)", "FTP upload",
                 [curl, "-sS", "--fail", "-u", user, "-T", str(src), f"{url}/in/curl.bin"],
                 ftp.root / "in" / "curl.bin"),
            Case("ftp_ours_up", "**ours**: `put_file` (`.part`, STOR 1 MiB blocks, rename)", "FTP upload",
                 *up("ftp_ours_up", ftp.root)),
            Case("ftp_hook_up", "Airflow `FTPHook.store_file` (defaults: 8 KiB blocks)", "FTP upload",
                 *up("ftp_hook_up", ftp.root)),
            Case("ftp_floor_up", "ftplib `storbinary` alone, 1 MiB blocks (floor)", "FTP upload",
                 *up("ftp_floor_up", ftp.root)),
            Case("ftp_curl_down", "`curl -o` (reference)", "FTP download",
                 [curl, "-sS", "--fail", "-u", user, "-o", str(work / "curl.bin"), f"{url}/src/{SOURCE}"],
                 work / "curl.bin"),
            Case("ftp_ours_down", "**ours**: file source `_fetch` (`FtpFiles.open`, 1 MiB reads)", "FTP download",
                 *down("ftp_ours_down")),
            Case("ftp_hook_down", "Airflow `FTPHook.retrieve_file` (defaults: 8 KiB blocks)", "FTP download",
                 *down("ftp_hook_down")),
            Case("ftp_floor_down", "ftplib `retrbinary` alone, 1 MiB blocks (floor)", "FTP download",
                 *down("ftp_floor_down")),
        ]  # fmt: skip
    if smb is not None:
        auth = work / "smb.auth"
        auth.write_text(f"username = {smb.username}\npassword = {smb.password}\n")
        auth.chmod(0o600)
        smbclient = [shutil.which("smbclient") or "smbclient", f"//{smb.host}/{smb.share}", "-p", str(smb.port),
                     "-A", str(auth), "--client-protection=sign", "-m", "SMB3"]  # fmt: skip
        cases += [
            Case("smb_cli_up", "`smbclient -c put`, signed (reference)", "SMB upload",
                 [*smbclient, "-c", f"put {src} in/smbclient.bin"], smb.root / "in" / "smbclient.bin"),
            Case("smb_ours_up", "**ours**: `put_file` (`.part`, write, rename)", "SMB upload",
                 *up("smb_ours_up", smb.root)),
            Case("smb_hook_up", "Airflow `SambaHook.push_from_local` (defaults)", "SMB upload",
                 *up("smb_hook_up", smb.root)),
            Case("smb_floor_up", "smbprotocol `open_file` + `copyfileobj` 1 MiB (floor)", "SMB upload",
                 *up("smb_floor_up", smb.root)),
            Case("smb_cli_down", "`smbclient -c get`, signed (reference)", "SMB download",
                 [*smbclient, "-c", f"get src/{SOURCE} {work / 'smbclient.bin'}"], work / "smbclient.bin"),
            Case("smb_ours_down", "**ours**: file source `_fetch` (`SmbFiles.open`)", "SMB download",
                 *down("smb_ours_down")),
            Case("smb_hook_down", "Airflow `SambaHook.open_file` + `copyfileobj` (defaults)", "SMB download",
                 *down("smb_hook_down")),
            Case("smb_floor_down", "smbprotocol `open_file` + `copyfileobj` 1 MiB (floor)", "SMB download",
                 *down("smb_floor_down")),
        ]  # fmt: skip
    for case in cases:
        server = ftp if case.group.startswith("FTP") else smb if case.group.startswith("SMB") else None
        case.server_pid = server._proc.pid if server is not None and server._proc is not None else None
    selected = [c for c in cases if floors or "_floor_" not in c.key]
    references = {"imports", "ftp_curl_up", "ftp_curl_down", "smb_cli_up", "smb_cli_down"}  # always kept: the pairs
    return [c for c in selected if not args.only or c.key in references or any(o in c.key for o in args.only)]


# --------------------------------------------------------------------------- measuring


def measure(cases: list[Case], args: argparse.Namespace, env: dict[str, str], expected: tuple[int, str]) -> None:
    """Pairs: every path runs right after a run of its group's reference and is compared with that run.

    On a shared machine the load changes from one minute to the next: a ratio to a reference
    measured seconds earlier is far steadier than a ratio of medians taken minutes apart.
    """
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.group, []).append(case)
    for round_no in range(args.repeat):
        for group, (ref, *others) in groups.items():
            if group == "imports":
                if round_no == 0:
                    _run(ref, args, env, expected, round_no)
                continue
            for case in others:
                ref_seconds = _run(ref, args, env, expected, round_no)
                seconds = _run(case, args, env, expected, round_no)
                if ref_seconds and seconds:
                    case.ratios.append(seconds / ref_seconds)


def _run(case: Case, args: argparse.Namespace, env: dict[str, str], expected: tuple[int, str],
         round_no: int) -> float | None:  # fmt: skip
    """One run; None when its output is wrong (reported as failed, not timed)."""
    server_before = process_cpu(case.server_pid)
    wall, rss, cpu, result = run_child(case.command, env, args.timeout)
    time.sleep(0.2)  # smbd reaps the session process that served the child
    server_cpu = process_cpu(case.server_pid) - server_before
    seconds = result.get("seconds", wall)
    cpu = result.get("cpu", cpu)  # a Python child's own count covers the transfer, not its imports
    problem = _check_output(case, expected) if case.key != "imports" else None
    state = "ok" if problem is None else f"FAILED: {problem}"
    print(f"  round {round_no + 1} {case.key:<15} {seconds:7.2f} s  rss {rss:6.0f} MB  cpu {cpu:6.2f} s  "
          f"server {server_cpu:6.2f} s  load {os.getloadavg()[0]:4.1f}  {state}", flush=True)  # fmt: skip
    if problem is not None:
        case.problems.append(f"round {round_no + 1}: {problem}")
        return None
    case.times.append(seconds)
    case.rss_mb.append(rss)
    case.cpu.append(cpu)
    case.server_cpu.append(server_cpu)
    return seconds


def _check_output(case: Case, expected: tuple[int, str]) -> str | None:
    """Size and md5 of what the run produced (then removed, so the next run starts from nothing)."""
    path = case.check
    leftovers = sorted(p.name for p in path.parent.glob(".*.part")) if path.parent.exists() else []
    if not path.exists():
        return f"{path.name} was not written" + (f" (left: {', '.join(leftovers)})" if leftovers else "")
    try:
        size, digest = path.stat().st_size, _md5(path)
    finally:
        path.unlink()
    if leftovers:
        return f"temporary files left behind: {', '.join(leftovers)}"
    if (size, digest) != expected:
        return f"{path.name}: {size} bytes md5 {digest}, expected {expected[0]} bytes md5 {expected[1]}"
    return None


# --------------------------------------------------------------------------- report


def report(cases: list[Case], args: argparse.Namespace, load: tuple[tuple[float, ...], tuple[float, ...]]) -> list[str]:
    """Print one Markdown table per group and return the targets missed."""
    failed: list[str] = []
    by_group: dict[str, list[Case]] = {}
    for case in cases:
        by_group.setdefault(case.group, []).append(case)
    imports = by_group.pop("imports", [])
    baseline = imports[0].rss_mb[0] if imports and imports[0].rss_mb else 0.0
    before, after = load
    print(f"\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {args.mib} MiB of random data; "
          f"{args.repeat} paired rounds; load average (1/5/15 min) before {before[0]:.2f} / {before[1]:.2f} / "
          f"{before[2]:.2f}, after {after[0]:.2f} / {after[1]:.2f} / {after[2]:.2f} on {os.cpu_count()} cores. "
          "\"vs reference\" is the median of the ratios to the reference run just before each run; a Python child's "
          "time and client CPU are those of the transfer (its imports and Airflow's plugins are loaded first), its "
          f"peak RSS includes them (a child that only imports peaks at {baseline:.0f} MB).")
    for group, members in by_group.items():
        server = "pyftpdlib" if group.startswith("FTP") else "smbd"
        print(f"\n#### {group}\n")
        print(f"| path | time (median) | MiB/s | vs reference | peak RSS | CPU: client + {server} | runs (s) |")
        print("|---|---|---|---|---|---|---|")
        for case in members:
            if not case.times:
                print(f"| {case.label} | failed | | | | | {'; '.join(case.problems)} |")
                continue
            median = statistics.median(case.times)
            ratio = f"{statistics.median(case.ratios):.2f}x" if case.ratios else "1.00x" if case is members[0] else "-"
            client = statistics.median(case.cpu)
            print(f"| {case.label} | {median:.2f} s | {args.mib / median:.0f} | {ratio} | {max(case.rss_mb):.0f} MB | "
                  f"{client:.1f} + {statistics.median(case.server_cpu):.1f} s | "
                  f"{', '.join(f'{t:.2f}' for t in case.times)} |")  # fmt: skip
        failed += _check(group, {c.key.split("_")[1]: c for c in members})
    print()
    for line in failed or ["all targets met"]:
        print(f"- {line}")
    return failed


def _ratio(case: Case | None) -> float | None:
    return statistics.median(case.ratios) if case is not None and case.ratios else None


def _check(group: str, cases: dict[str, Case]) -> list[str]:
    failed = [f"{group}: {c.label}: {problem}" for c in cases.values() for problem in c.problems]
    ours, hook, floor = _ratio(cases.get("ours")), _ratio(cases.get("hook")), _ratio(cases.get("floor"))
    if ours is not None and ours > MAX_VS_REFERENCE:
        failed.append(f"{group}: ours {ours:.2f}x the reference (target <= {MAX_VS_REFERENCE}x)"
                      + (f"; the client library alone is {floor:.2f}x" if floor else ""))  # fmt: skip
    if group == "FTP upload" and ours and hook and hook < MIN_FTP_UPLOAD_SPEEDUP * ours:
        failed.append(f"{group}: ours only {hook / ours:.1f}x faster than the hook (target >= "
                      f"{MIN_FTP_UPLOAD_SPEEDUP}x; the hook's floor is in the table)")  # fmt: skip
    return failed


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the file moved (MiB of random data)")
    parser.add_argument("--repeat", type=int, default=3, help="paired rounds (median reported)")
    parser.add_argument("--protocols", nargs="*", choices=["ftp", "smb"], default=["ftp", "smb"])
    parser.add_argument("--only", nargs="*", help="only cases whose key contains one of these (e.g. up ours)")
    parser.add_argument("--no-floors", dest="floors", action="store_false", help="skip the client libraries alone")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a child is killed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--local", help=argparse.SUPPRESS)
    parser.add_argument("--remote", help=argparse.SUPPRESS)
    parser.add_argument("--remote-dir", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    from tests.servers import FtpServer, SmbServer

    work = Path(tempfile.mkdtemp(prefix="batchtasks-bench-"))
    ftp = FtpServer().start() if "ftp" in args.protocols else None
    smb = SmbServer().start() if "smb" in args.protocols else None
    try:
        src = work / "upload.bin"
        digest = hashlib.md5(usedforsecurity=False)
        with open(src, "wb") as fh:
            for _ in range(args.mib):
                block = os.urandom(1 << 20)
                digest.update(block)
                fh.write(block)
        expected = (args.mib << 20, digest.hexdigest())
        for server in (s for s in (ftp, smb) if s is not None):
            for folder in ("in", "src"):
                (server.root / folder).mkdir()
            os.link(src, server.root / "src" / SOURCE)  # the downloads' source: the same bytes, no copy
        print(f"FTP on {ftp.port if ftp else '-'}, SMB on {smb.port if smb else '-'}, work dir {work}, "
              f"source md5 {expected[1]}", flush=True)  # fmt: skip
        home = work / "airflow_home"
        home.mkdir()
        env = {
            **os.environ, **connections(ftp, smb), "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(ROOT),
            "PYTHONPYCACHEPREFIX": str(work / "pycache"),
        }  # fmt: skip
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # children import from cached bytecode, as a deployment does
        cases = build_cases(args, work, src, ftp, smb)
        run_child(cases[0].command, env, args.timeout)  # fills the bytecode cache, not measured
        load_start = os.getloadavg()
        measure(cases, args, env, expected)
        failed = report(cases, args, (load_start, os.getloadavg()))
    finally:
        for server in (ftp, smb):
            if server is not None:
                server.close()
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
