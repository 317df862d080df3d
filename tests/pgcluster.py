"""A throwaway PostgreSQL cluster from the installed server binaries, for tests.

The server refuses to run as root, so as root the cluster runs as the `postgres` system
user (created by the Debian package); otherwise as the current user. It listens on
127.0.0.1 only, trusts local connections, and is deleted on stop.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path:
    candidates = [os.environ.get("PG_BINDIR", "")]
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(subprocess.CalledProcessError):
            candidates.append(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(str(Path(initdb).parent))
    for candidate in candidates:
        if (
            candidate
            and (Path(candidate) / "initdb").exists()
            and (Path(candidate) / "pg_ctl").exists()
        ):
            return Path(candidate)
    msg = (
        "PostgreSQL server binaries (initdb, pg_ctl) not found: install the server "
        "(Debian: apt-get install postgresql) or set PG_BINDIR"
    )
    raise RuntimeError(msg)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    host: str
    port: int
    user: str
    datadir: Path
    bindir: Path
    run_as: str | None
    reaper: subprocess.Popen[bytes] | None = None  # stops the server if its owner dies

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def stop(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-w",
                "-m",
                "immediate",
                "stop",
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.datadir, ignore_errors=True)


def start_cluster(user: str = "tester") -> PgCluster:
    bindir = find_bindir()
    run_as = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam("postgres").pw_name
        except KeyError:
            run_as = "nobody"
    datadir = Path(tempfile.mkdtemp(prefix="finfocus-pg-"))
    if run_as:
        shutil.chown(datadir, user=run_as)
    port = free_port()
    cluster = PgCluster("127.0.0.1", port, user, datadir, bindir, run_as)
    subprocess.run(
        cluster._cmd(
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-h 127.0.0.1 -p {port} -k {datadir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    result = subprocess.run(
        cluster._cmd(
            str(bindir / "pg_ctl"),
            "-D",
            str(datadir),
            "-w",
            "-l",
            str(datadir / "log"),
            "-o",
            options,
            "start",
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        log = (datadir / "log").read_text() if (datadir / "log").exists() else ""
        cluster.stop()
        raise RuntimeError(f"PostgreSQL did not start: {result.stderr.strip()} {log[-500:]}")
    _reap_when_gone(cluster, os.getpid())
    return cluster


def _reap_when_gone(cluster: PgCluster, owner: int) -> None:
    """Stop the cluster and remove its files once ``owner`` is gone, however it ended: a
    test run killed by a signal runs no teardown and would leave the server running."""
    stop = cluster._cmd(
        str(cluster.bindir / "pg_ctl"), "-D", str(cluster.datadir), "-m", "immediate", "stop"
    )
    script = (
        f"while kill -0 {owner} 2>/dev/null; do sleep 2; done; "
        f"{shlex.join(stop)} >/dev/null 2>&1; rm -rf {shlex.quote(str(cluster.datadir))}"
    )
    cluster.reaper = subprocess.Popen(  # kept: it outlives the test run on purpose
        ["sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
