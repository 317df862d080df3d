"""Azurite (Microsoft's Blob Storage emulator) from a local npm install, on loopback.

    azurite = Azurite(npm_dir)        # npm_dir holds package.json + node_modules/azurite
    azurite.start()                   # random free port, its own temporary folder
    azurite.connection_string         # the well-known devstoreaccount1 account (or the
                                      # `account=(name, key)` it was started with)
    azurite.stop()                    # or: with Azurite(npm_dir) as azurite: ...

`ensure_installed(npm_dir)` runs `npm ci --prefix <npm_dir>` when Azurite is missing, so a
fresh machine (or CI) installs the version its package-lock.json pins.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

#: Azurite's documented development account (public, the same on every machine).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def dev_connection_string(blob_endpoint: str) -> str:
    """The connection string of the development account at `blob_endpoint` (…/devstoreaccount1)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint={blob_endpoint};"
    )


def azurite_binary(npm_dir: Path) -> Path:
    return Path(npm_dir) / "node_modules" / ".bin" / "azurite-blob"


def ensure_installed(npm_dir: Path, timeout: float = 600) -> Path:
    """The azurite-blob launcher, installed with `npm ci` from the lock file if missing."""
    binary = azurite_binary(npm_dir)
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("Azurite is not installed and npm is not on PATH (Node.js >= 18)")
    result = subprocess.run(
        [npm, "ci", "--prefix", str(npm_dir), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0 or not binary.exists():
        raise RuntimeError(
            f"npm ci --prefix {npm_dir} failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return binary


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Azurite:
    """One azurite-blob process on `host`, a free port and a temporary data folder."""

    def __init__(
        self,
        npm_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        start_timeout: float = 60,
        account: tuple[str, str] | None = None,
    ) -> None:
        """`account`: (name, base64 key) of the one storage account Azurite serves (its
        AZURITE_ACCOUNTS setting) instead of the public development account."""
        self.npm_dir = Path(npm_dir)
        self.account_name, self.account_key = account or (DEV_ACCOUNT, DEV_KEY)
        self.custom_account = account is not None
        self.host = host
        self.start_timeout = start_timeout
        self.port = 0
        self.location: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def blob_endpoint(self) -> str:
        return f"http://{self.host}:{self.port}/{self.account_name}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account_name};"
            f"AccountKey={self.account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def start(self) -> str:
        """Start Azurite and wait until it answers; returns the blob endpoint."""
        if self._process is not None:
            return self.blob_endpoint
        binary = ensure_installed(self.npm_dir)
        self.location = Path(tempfile.mkdtemp(prefix="finfocus-azurite-"))
        self._log = self.location / "azurite.log"
        for _attempt in range(3):
            self.port = free_port(self.host)
            with self._log.open("ab") as log:
                self._process = subprocess.Popen(
                    [
                        str(binary),
                        "--blobHost",
                        self.host,
                        "--blobPort",
                        str(self.port),
                        "--location",
                        str(self.location / "data"),
                        "--skipApiVersionCheck",
                        "--loose",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=self._environment(),
                    cwd=self.npm_dir,
                    start_new_session=True,  # its own process group: stop() ends node and kids
                )
            if self._wait_ready():
                return self.blob_endpoint
            self._terminate()
        tail = self._log.read_text(errors="replace")[-2000:] if self._log.exists() else ""
        self.stop()
        raise RuntimeError(f"Azurite did not start on {self.host}: {tail}")

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "AZURITE_ACCOUNTS"}
        if self.custom_account:
            env["AZURITE_ACCOUNTS"] = f"{self.account_name}:{self.account_key}"
        return env

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        url = f"http://{self.host}:{self.port}/{self.account_name}?comp=list"
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return True
            except urllib.error.HTTPError:
                return True  # any HTTP answer (403 without credentials) means it listens
            except OSError:
                time.sleep(0.1)
        return False

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop(self) -> None:
        self._terminate()
        if self.location is not None:
            shutil.rmtree(self.location, ignore_errors=True)
            self.location = None

    def __enter__(self) -> Azurite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


__all__ = [
    "DEV_ACCOUNT",
    "DEV_KEY",
    "Azurite",
    "azurite_binary",
    "dev_connection_string",
    "ensure_installed",
    "free_port",
]
