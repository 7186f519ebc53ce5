"""GPG encryption inside the ``package`` step, side by side with the ``gpg`` command line.

Why: ``output.gpg`` encrypts every extracted file before delivery; on a 1 GiB extract that is
the longest step after the extract itself. The package step drives ``gpg`` through python-gnupg;
this measures what that costs over running ``gpg`` by hand with the very same options.

Setup: a CSV file of ``--mib`` MiB (generated, realistic text: ids, dates, timestamps, names,
e-mail addresses, cities, amounts, statuses, free-text notes) and an RSA key pair made in a
throwaway GNUPGHOME (the secret half stays there, for the decrypt check). Each round runs both,
each in its own child process, the reference first in odd rounds and ours first in even ones:

* the reference: ``gpg --batch --no-tty --trust-model always --recipient FPR --compress-level 1
  --output OUT --yes --encrypt SRC`` in a fresh GNUPGHOME into which the public key is imported
  first (binary output, the key's preferred cipher and compression algorithm);
* ours: ``formats.gpg.encryptor`` + ``Encryptor.encrypt`` exactly as ``PackageOperator`` calls it
  (key from an Airflow Variable, files as ``file://`` ObjectStoragePaths), with the same options
  (``compress_level`` 1, the default; no armor; ``--trust-model always``).

Both times include making the throwaway keyring and importing the key. Every round checks both
outputs: each is decrypted with the secret key, the plaintext's size and MD5 must be the source's,
the cipher and compression algorithms gpg reports must be the same for both, and the two
ciphertexts must differ in size by at most a few bytes (the session key's packet). A wrong output is
reported as failed, not timed. Peak RSS and CPU (the child plus the gpg processes it waited for)
come from ``wait4``; the load average is printed before and after.

``uv run python benchmarks/gpg_package.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from extract_and_deliver import _md5, run_child  # noqa: E402  (the same child runner and digest)

RECIPIENT = "bench@example.com"
KEY_VARIABLE = "batchtasks_bench_gpg_key"
COMPRESS_LEVEL = 1  # output.gpg.compress_level's default
MAX_SIZE_DIFFERENCE = 64  # bytes: the public-key packet's MPI may be a byte shorter; the rest is deterministic
TARGET = 1.1
NOISY_SPREAD = 1.3


@dataclass
class Case:
    key: str
    label: str
    command: list[str]
    times: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    algorithms: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    baseline_cpu: float = 0.0  # what the Python child costs before it encrypts (imports), not counted


# --------------------------------------------------------------------------- data and key


FIRST = ["Anna", "Ben", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kai", "Lena",
         "Marc", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Sven", "Tanja", "Ugo", "Vera", "Wim", "Zoë"]
LAST = ["Müller", "Schmidt", "Dubois", "Rossi", "García", "Nowak", "Jansen", "Smith", "Novák", "Larsen",
        "Fischer", "Weber", "Moreau", "Bianchi", "López", "Kowalski", "de Vries", "Brown", "Horvat", "Berg"]
CITIES = ["Berlin", "Paris", "Milano", "Madrid", "Warszawa", "Amsterdam", "London", "Praha", "København",
          "Wien", "Zürich", "Lisboa", "Bruxelles", "Stockholm", "Dublin", "Helsinki"]
STATUSES = ["OPEN", "SHIPPED", "INVOICED", "PAID", "CANCELLED", "RETURNED"]
WORDS = ["delivery", "late", "customer", "called", "back", "invoice", "corrected", "address", "changed", "parcel",
         "damaged", "refund", "approved", "pending", "review", "priority", "express", "standard", "warehouse",
         "stock", "reorder", "discount", "applied", "contract", "renewal", "follow-up"]
HEADER = "order_id,order_date,created_at,customer,email,city,amount,currency,status,items,note\n"


def _pool_line(rng: random.Random) -> str:
    """One order line without its id: text as an ERP export has it (quoted where CSV needs it)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    note = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 9)))
    if note and rng.random() < 0.1:
        note = f'"{note}, ""urgent"""'
    day = f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return (
        f"{day},{day} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d},"
        f"{first} {last},{first.lower()}.{last.lower().replace(' ', '')}{rng.randint(1, 999)}@example.com,"
        f"{rng.choice(CITIES)},{rng.randint(1, 9_999_999) / 100:.2f},EUR,{rng.choice(STATUSES)},"
        f"{rng.randint(1, 40)},{note}\n"
    )


def write_csv(path: Path, mib: int, seed: int = 14) -> int:
    """``mib`` MiB (at least) of order lines; returns the line count.

    200,000 distinct lines (about 20 MB, far beyond zlib's 32 KB window, so the compressor sees
    text as varied as a real export's), each written with its own increasing id.
    """
    rng = random.Random(seed)
    pool = [_pool_line(rng) for _ in range(200_000)]
    target, written, lines = mib << 20, 0, 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        written += fh.write(HEADER)
        while written < target:
            block = "".join(f"{n},{pool[(n * 7919) % len(pool)]}" for n in range(lines + 1, lines + 50_001))
            lines += 50_000
            written += len(block.encode("utf-8"))
            fh.write(block)
    return lines


def make_key(home: Path) -> tuple[str, str]:
    """An RSA-3072 key pair with an encryption subkey, no passphrase, in ``home``: (fingerprint, armored public key)."""
    gpg = ["gpg", "--batch", "--no-tty", "--homedir", str(home)]
    quiet = ["--passphrase", "", "--pinentry-mode", "loopback"]
    subprocess.run([*gpg, *quiet, "--quick-gen-key", f"Bench <{RECIPIENT}>", "rsa3072", "sign,cert", "never"],
                   check=True, capture_output=True)  # fmt: skip
    listing = subprocess.run([*gpg, "--with-colons", "--list-keys", RECIPIENT], check=True, capture_output=True,
                             text=True).stdout  # fmt: skip
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    # an encryption subkey, as partners' RSA keys have: the primary key only signs and certifies
    subprocess.run([*gpg, *quiet, "--quick-add-key", fingerprint, "rsa3072", "encr", "never"], check=True,
                   capture_output=True)  # fmt: skip
    armored = subprocess.run([*gpg, "--armor", "--export", fingerprint], check=True, capture_output=True,
                             text=True).stdout  # fmt: skip
    return fingerprint, armored


# --------------------------------------------------------------------------- children


def child(args: argparse.Namespace) -> None:
    """One measured encryption; writes the seconds to ``args.result``."""
    src, out = Path(args.src), Path(args.out)
    if args.child == "cli":
        start = time.perf_counter()
        home = tempfile.mkdtemp(prefix="bench-gnupg-cli-")
        try:
            gpg = ["gpg", "--batch", "--no-tty", "--homedir", home]
            subprocess.run([*gpg, "--import", args.pubkey], check=True, capture_output=True)
            subprocess.run([*gpg, "--trust-model", "always", "--recipient", args.fingerprint, "--compress-level",
                            str(COMPRESS_LEVEL), "--output", str(out), "--yes", "--encrypt", str(src)],
                           check=True, capture_output=True)  # fmt: skip
        finally:
            _kill_agent(home)
            shutil.rmtree(home, ignore_errors=True)
    elif args.child in ("ours", "baseline"):
        import logging

        from airflow.sdk import ObjectStoragePath

        from airflow_batchtasks.formats.gpg import GpgSpec, encryptor

        # what a task process has done before its operator runs: plugins loaded by the first file opened
        probe = ObjectStoragePath(f"file://{out}.warm")
        with probe.open("wb") as fh:
            fh.write(b"warm")
        probe.unlink()
        if args.child == "baseline":  # what the child costs before it encrypts: subtracted from its CPU
            Path(args.result).write_text(json.dumps({"seconds": 0.0}))
            return
        spec = GpgSpec.from_dict({"recipient": RECIPIENT, "key_variable": KEY_VARIABLE})
        start = time.perf_counter()
        with encryptor(spec, logging.getLogger("bench")) as gpg:
            gpg.encrypt(ObjectStoragePath(f"file://{src}"), ObjectStoragePath(f"file://{out}"))
    else:
        raise SystemExit(f"unknown child {args.child}")
    Path(args.result).write_text(json.dumps({"seconds": time.perf_counter() - start}))


def _kill_agent(home: str) -> None:
    if any(name.startswith("S.") for name in os.listdir(home)):
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)


# --------------------------------------------------------------------------- checks


def decrypt_check(path: Path, home: Path) -> tuple[int, str, str]:
    """Decrypt ``path`` with the secret key; return (plaintext size, its MD5, "cipher/compression" gpg used)."""
    command = ["gpg", "--batch", "--no-tty", "--homedir", str(home), "--status-fd", "2", "-vv", "--decrypt", str(path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    digest, size = hashlib.md5(), 0
    assert proc.stdout is not None and proc.stderr is not None
    while chunk := proc.stdout.read(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    status = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise RuntimeError(f"gpg --decrypt {path.name} failed:\n{status[-2000:]}")
    cipher = next((line.split()[3] for line in status.splitlines() if "DECRYPTION_INFO" in line), "?")
    compress = next((line.rsplit("algo=", 1)[1].strip() for line in status.splitlines()
                     if "compressed packet" in line and "algo=" in line), "?")  # fmt: skip
    return size, digest.hexdigest(), f"cipher {cipher} / compression {compress}"


def check_round(cases: list[Case], outs: dict[str, Path], source: tuple[int, str], home: Path, round_no: int,
                decrypt: bool) -> None:  # fmt: skip
    """Sizes of the two ciphertexts agree; each decrypts to the source (size and MD5)."""
    sizes = {c.key: c.sizes[-1] for c in cases}
    if max(sizes.values()) - min(sizes.values()) > MAX_SIZE_DIFFERENCE:
        for case in cases:
            case.problems.append(f"round {round_no + 1}: ciphertext sizes differ: {sizes}")
    for case in cases:
        if not decrypt:
            continue
        size, md5, algorithms = decrypt_check(outs[case.key], home)
        case.algorithms.add(algorithms)
        if (size, md5) != source:
            case.problems.append(f"round {round_no + 1}: decrypts to {size} bytes md5 {md5}, not the source's")
    algorithms = {a for c in cases for a in c.algorithms}
    if len(algorithms) > 1:
        cases[-1].problems.append(f"round {round_no + 1}: different algorithms: {sorted(algorithms)}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of the generated CSV file")
    parser.add_argument("--repeat", type=int, default=3, help="measured rounds (pairs reference, ours)")
    parser.add_argument("--decrypt", choices=("every", "first"), default="every",
                        help="decrypt-check both outputs every round (default) or in the first round only")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a child is killed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--pubkey", help=argparse.SUPPRESS)
    parser.add_argument("--fingerprint", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    work = Path(tempfile.mkdtemp(prefix="batchtasks-bench-gpg-"))
    try:
        return _run(args, work)
    finally:
        _kill_agent(str(work / "gnupg"))
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    home = work / "gnupg"
    home.mkdir(mode=0o700)
    fingerprint, armored = make_key(home)
    pubkey = work / "public.asc"
    pubkey.write_text(armored)
    src = work / "orders.csv"
    lines = write_csv(src, args.mib)
    source = (src.stat().st_size, _md5(src))
    print(f"{src.name}: {source[0]:,} bytes, {lines:,} lines; key {fingerprint}; work dir {work}", flush=True)
    airflow_home = work / "airflow_home"
    airflow_home.mkdir()
    env = {
        **os.environ, f"AIRFLOW_VAR_{KEY_VARIABLE.upper()}": armored, "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "PYTHONPATH": str(ROOT),
        "PYTHONPYCACHEPREFIX": str(work / "pycache"),
    }  # fmt: skip
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    me = [sys.executable, str(Path(__file__).resolve())]
    outs = {"cli": work / "cli.csv.gpg", "ours": work / "ours.csv.gpg"}

    def command(kind: str) -> list[str]:
        return [*me, "--child", kind, "--src", str(src), "--out", str(outs[kind]), "--pubkey", str(pubkey),
                "--fingerprint", fingerprint, "--result", "{result}"]  # fmt: skip

    cases = [
        Case("cli", f"`gpg --encrypt` CLI (reference): `--trust-model always --compress-level {COMPRESS_LEVEL}`, "
                    "binary", command("cli")),
        Case("ours", "**ours**: `package` step's `output.gpg` (python-gnupg, `formats/gpg.py`)", command("ours")),
    ]  # fmt: skip
    run_child(command("ours"), env, args.timeout)  # fills the bytecode cache, not measured
    baseline = run_child(["baseline" if p == "ours" else p for p in command("ours")], env, args.timeout)
    print(f"baseline child (imports, plugins, no encryption): cpu {baseline[2]:.2f} s, rss {baseline[1]:.0f} MB",
          flush=True)  # fmt: skip
    cases[1].baseline_cpu = baseline[2]
    load = [os.getloadavg()]
    for round_no in range(args.repeat):
        # the order alternates (reference first, then ours first): whichever runs second meets the
        # first one's output still being written back to disk
        for case in cases if round_no % 2 == 0 else cases[::-1]:
            wall, rss, cpu, result = run_child(case.command, env, args.timeout)
            case.times.append(result.get("seconds", wall))
            case.rss_mb.append(rss)
            case.cpu.append(cpu)
            case.sizes.append(outs[case.key].stat().st_size)
            print(f"  round {round_no + 1} {case.key:<5} {case.times[-1]:7.2f} s  rss {rss:5.0f} MB  cpu {cpu:6.2f} s  "
                  f"out {case.sizes[-1]:,} B  load {os.getloadavg()[0]:4.1f}", flush=True)  # fmt: skip
        cases[1].ratios.append(cases[1].times[-1] / cases[0].times[-1])
        check_round(cases, outs, source, home, round_no, args.decrypt == "every" or round_no == 0)
        for out in outs.values():
            out.unlink(missing_ok=True)
    load.append(os.getloadavg())
    return report(cases, args, source, load)


def report(cases: list[Case], args: argparse.Namespace, source: tuple[int, str],
           load: list[tuple[float, float, float]]) -> int:  # fmt: skip
    print(f"\nLoad average (1 / 5 min) at start: {load[0][0]:.1f} / {load[0][1]:.1f}, at end: {load[1][0]:.1f} / "
          f"{load[1][1]:.1f} on {os.cpu_count()} cores; {args.repeat} paired rounds; \"vs reference\" is the median "
          f"of each round's ratio to the reference run beside it (order alternating); {source[0]:,} bytes of CSV; "
          f"{', '.join(sorted({a for c in cases for a in c.algorithms}))} (gpg's numbers).\n")  # fmt: skip
    print("| path | time (median) | vs reference | peak RSS | CPU (child + gpg; ours net of imports) | output size "
          "| runs (s) |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        ratio = statistics.median(case.ratios) if case.ratios else 1.0
        print(f"| {case.label} | {statistics.median(case.times):.2f} s | {ratio:.2f}x | {max(case.rss_mb):.0f} MB | "
              f"{statistics.median(case.cpu) - case.baseline_cpu:.1f} s | {statistics.median(case.sizes):,.0f} B | "
              f"{', '.join(f'{t:.2f}' for t in case.times)} |")  # fmt: skip
    for case in cases:
        if len(case.times) > 1 and max(case.times) > NOISY_SPREAD * min(case.times):
            print(f"\nwarning: {case.key}'s runs differ by more than {NOISY_SPREAD}x: the machine is busy")
    failed = [f"{c.key}: {p}" for c in cases for p in c.problems]
    ratio = statistics.median(cases[1].ratios) if cases[1].ratios else 0.0
    if ratio > TARGET:
        failed.append(f"ours {ratio:.2f}x the gpg CLI (target <= {TARGET}x)")
    print()
    for line in failed or ["all targets met, every output decrypted to the source"]:
        print(f"- {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
