"""Where the dataset lives: a local folder or an S3 prefix, behind one small interface.

Every write is atomic: a reader sees the old object or the new one, never a partial one.

- Local: the new file is written to a hidden temporary file in the destination folder,
  flushed to disk, then moved over the old one with ``os.replace`` (atomic on POSIX and
  Windows within one file system).
- S3: the new file is written completely to a local temporary file first, then uploaded
  with boto3 (one PUT, or a multipart upload for large files that S3 only publishes when it
  is completed, and that boto3 aborts when a part fails). An object is never visible
  half-written.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import os
import shutil
import tempfile
import typing as t
import uuid
from pathlib import Path

from finfocus_common.errors import (
    ConfigError,
    FinfocusError,
    PermanentError,
    TransientError,
    one_line,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator

Writer = t.Callable[[Path], object]
"""Writes the complete new content of an object to the local path it is given."""


class Storage(abc.ABC):
    """A dataset root: objects addressed by relative paths with ``/`` separators."""

    uri: str

    def describe(self, relpath: str) -> str:
        """The full location of ``relpath``, for messages and the audit record."""
        return f"{self.uri.rstrip('/')}/{relpath}"

    @abc.abstractmethod
    def local_copy(self, relpath: str) -> contextlib.AbstractContextManager[Path | None]:
        """A local file with the object's content (None when there is no such object)."""

    @abc.abstractmethod
    def read_bytes(self, relpath: str) -> bytes | None:
        """The object's content, or None when there is no such object."""

    @abc.abstractmethod
    def write_atomic(self, relpath: str, write: Writer) -> None:
        """Replace (or create) the object with what ``write`` writes, atomically."""

    def write_bytes(self, relpath: str, data: bytes) -> None:
        """Replace (or create) the object with ``data``, atomically."""
        self.write_atomic(relpath, lambda path: path.write_bytes(data))

    @abc.abstractmethod
    def create_exclusive(self, relpath: str, data: bytes) -> bool:
        """Create the object with ``data`` only if it does not exist; False if it does."""

    @abc.abstractmethod
    def delete(self, relpath: str) -> None:
        """Remove the object; nothing happens when there is none."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Relative paths of every object under ``prefix`` (a folder, ending in ``/``)."""

    def remove_temporaries(self) -> None:  # noqa: B027  # object stores write atomically
        """Delete temporary files of writers that died mid-write (atomic stores: none)."""


class LocalStorage(Storage):
    """A folder on a local (or mounted) file system."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uri = str(self.root)

    def describe(self, relpath: str) -> str:
        return str(self.root / relpath)

    @contextlib.contextmanager
    def local_copy(self, relpath: str) -> Iterator[Path | None]:
        path = self.root / relpath
        yield path if path.is_file() else None

    def read_bytes(self, relpath: str) -> bytes | None:
        path = self.root / relpath
        with storage_failures("read", str(path)):
            return path.read_bytes() if path.is_file() else None

    def remove_temporaries(self) -> None:
        if self.root.is_dir():
            for temporary in self.root.rglob(".*.tmp"):
                temporary.unlink(missing_ok=True)

    def write_atomic(self, relpath: str, write: Writer) -> None:
        destination = self.root / relpath
        # Hidden and without the data file's extension: dataset readers never pick it up.
        temporary = destination.parent / f".{destination.name}.{uuid.uuid4().hex}.tmp"
        with storage_failures("write", str(destination)):
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                write(temporary)
                _fsync_file(temporary)
                os.replace(temporary, destination)
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            _fsync_dir(destination.parent)

    def create_exclusive(self, relpath: str, data: bytes) -> bool:
        path = self.root / relpath
        with storage_failures("write", str(path)):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            return True

    def delete(self, relpath: str) -> None:
        path = self.root / relpath
        with storage_failures("delete", str(path)):
            path.unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        folder = self.root / prefix
        if not folder.is_dir():
            return []
        return sorted(str(p.relative_to(self.root)) for p in folder.rglob("*") if p.is_file())


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(descriptor)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(descriptor)


class S3Storage(Storage):
    """A bucket and key prefix in S3 or an S3-compatible store (MinIO, Ceph, moto...)."""

    def __init__(
        self,
        uri: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"invalid config: output_path {uri!r} names no bucket")
        self.uri = uri.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # Standard AWS credential chain (environment, profile, instance or task role).
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            config=Config(retries={"max_attempts": 10, "mode": "adaptive"}),
        )

    def key(self, relpath: str) -> str:
        return f"{self.prefix}/{relpath}" if self.prefix else relpath

    @contextlib.contextmanager
    def local_copy(self, relpath: str) -> Iterator[Path | None]:
        with tempfile.TemporaryDirectory(prefix="target-focus-") as folder:
            path = Path(folder) / Path(relpath).name
            found = True
            with storage_failures("read", self.describe(relpath)):
                try:
                    self.client.download_file(self.bucket, self.key(relpath), str(path))
                except Exception as exc:
                    if not _is_not_found(exc):
                        raise
                    found = False
            yield path if found else None

    def read_bytes(self, relpath: str) -> bytes | None:
        with storage_failures("read", self.describe(relpath)):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self.key(relpath))
            except Exception as exc:
                if _is_not_found(exc):
                    return None
                raise
            return t.cast("bytes", response["Body"].read())

    def write_atomic(self, relpath: str, write: Writer) -> None:
        with tempfile.TemporaryDirectory(prefix="target-focus-") as folder:
            path = Path(folder) / Path(relpath).name
            write(path)
            with storage_failures("write", self.describe(relpath)):
                self.upload(path, self.key(relpath))

    def create_exclusive(self, relpath: str, data: bytes) -> bool:
        with storage_failures("write", self.describe(relpath)):
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=self.key(relpath), Body=data, IfNoneMatch="*"
                )
            except Exception as exc:
                if _error_code(exc) in {"PreconditionFailed", "ConditionalRequestConflict"}:
                    return False
                raise
            return True

    def delete(self, relpath: str) -> None:
        with storage_failures("delete", self.describe(relpath)):
            self.client.delete_object(Bucket=self.bucket, Key=self.key(relpath))

    def list(self, prefix: str) -> list[str]:
        found = []
        start = len(self.key(""))
        with storage_failures("list", self.describe(prefix)):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.key(prefix)):
                found += [item["Key"][start:] for item in page.get("Contents", [])]
        return sorted(found)

    def upload(self, path: Path, key: str) -> None:
        """Publish a complete local file as one object (PUT, or an aborted-on-error multipart)."""
        self.client.upload_file(str(path), self.bucket, key)


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _is_not_found(exc: BaseException) -> bool:
    return _error_code(exc) in {"404", "NoSuchKey", "NotFound"}


# Retrying cannot help with these; anything else from storage may be transient.
_PERMANENT_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR})
_PERMANENT_S3_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidBucketName",
        "InvalidToken",
        "NoSuchBucket",
        "SignatureDoesNotMatch",
    }
)


@contextlib.contextmanager
def storage_failures(action: str, where: str) -> Iterator[None]:
    """Turn a storage failure into a one-line PermanentError or TransientError."""
    try:
        yield
    except FinfocusError:
        raise
    except Exception as exc:
        kind = _classify(exc)
        if kind is None:
            raise
        detail = one_line(str(exc)) or type(exc).__name__
        raise kind(f"cannot {action} {where}: {detail}") from exc


def _classify(exc: Exception) -> type[FinfocusError] | None:
    if isinstance(exc, OSError):
        return PermanentError if exc.errno in _PERMANENT_ERRNOS else TransientError
    module = type(exc).__module__
    if module.startswith(("botocore", "boto3", "s3transfer")):
        name = type(exc).__name__
        codes = {_error_code(exc), _error_code(exc.__cause__ or exc.__context__ or exc)}
        if "Credentials" in name or codes & _PERMANENT_S3_CODES:
            return PermanentError
        return TransientError
    return None


def open_storage(
    output_path: str,
    *,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> Storage:
    """The storage behind ``output_path``: ``s3://bucket/prefix`` or a local folder."""
    if output_path.startswith("s3://"):
        return S3Storage(output_path, endpoint_url=s3_endpoint_url, region=s3_region)
    if "://" in output_path:
        scheme = output_path.split("://", 1)[0]
        raise ConfigError(
            f"invalid config: output_path scheme {scheme}:// is not supported "
            "(use a local folder or s3://bucket/prefix)"
        )
    return LocalStorage(output_path)


def copy_into(source: Path) -> Writer:
    """A Writer that copies ``source`` (a finished local file) to the temporary path."""
    return lambda destination: shutil.copyfile(source, destination)
