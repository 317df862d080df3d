"""Cost Management exports in Blob Storage: finding the newest run of each period, reading it.

Exports are found by their manifests, never by folder names: every blob under
`<container>/<prefix>/` named `manifest.json` is read, and its `exportConfig` (exportName,
type), `runInfo` (runId, submittedTime, startDate) and `blobs` (blobName) say what the run
holds. Microsoft writes each run in its own folder
(`<prefix>/<export>/<YYYYMMDD-YYYYMMDD>/<yyyyMMddHHmm>/<runId>/`); when several runs cover
the same export and billing month (month-to-date runs every day, re-runs of a restated
month), the one submitted last wins and the others are ignored.

Types read: ActualCost -> azure_actual, AmortizedCost -> azure_amortized, FocusCost ->
azure_focus (CSV, optionally gzip). Other export types in the same place (price sheets,
reservation details) are skipped; Parquet runs stop the run with a clear message.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlparse

from finfocus_common.errors import ConfigError, PermanentError, TransientError

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Callable

    from azure.storage.blob import ContainerClient

EXPORT_KINDS = {
    "ActualCost": "azure_actual",
    "AmortizedCost": "azure_amortized",
    "FocusCost": "azure_focus",
}
SPOOL_BYTES = 32 * 1024 * 1024


@dataclass
class ExportRunInfo:
    """One export run (one billing month of one export), as its manifest describes it."""

    export_kind: str  # azure_actual | azure_amortized | azure_focus
    export_name: str
    export_type: str  # ActualCost | AmortizedCost | FocusCost
    billing_period: str  # YYYY-MM
    run_id: str
    manifest_blob: str
    submitted_time: str  # ISO 8601 UTC, as the manifest says
    files: list[str]
    resource_id: str = ""
    extra: dict[str, t.Any] = field(default_factory=dict)

    @property
    def state_key(self) -> str:
        return f"{self.export_kind}/{self.export_name}/{self.billing_period}"

    @property
    def delivered_at(self) -> str:
        text = self.submitted_time.rstrip("Z").split(".")[0]
        try:
            moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
        except ValueError:
            return self.submitted_time
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _code(exc: Exception) -> str:
    """Azure's error code: AuthorizationFailure, not StorageErrorCode.AUTHORIZATION_FAILURE."""
    code = getattr(exc, "error_code", "") or ""
    return str(getattr(code, "value", code))


class BlobExports:
    """The exports under one container and prefix."""

    def __init__(
        self,
        container: ContainerClient,
        *,
        prefix: str,
        account_url: str,
        export_names: list[str] | None,
        logger: logging.Logger,
    ) -> None:
        self.container = container
        self.prefix = prefix.strip("/")
        self.account_url = account_url
        self.export_names = set(export_names or [])
        self.logger = logger

    @property
    def where(self) -> str:
        tail = f"/{self.prefix}/" if self.prefix else "/"
        return f"{self.account_url.rstrip('/')}/{self.container.container_name}{tail}"

    def translate(self, exc: Exception, what: str) -> Exception:
        """The one-line, secret-free error for a failed Blob Storage call."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )

        code = _code(exc)
        container = self.container.container_name
        if isinstance(exc, ResourceNotFoundError) and (
            code == "ContainerNotFound" or (not code and "container" in what)
        ):
            return PermanentError(
                f"container '{container}' does not exist in storage account "
                f"{self.account_url}: check container and the storage settings"
            )
        if isinstance(exc, ResourceNotFoundError):
            return PermanentError(f"{what} is listed by its manifest but does not exist ({code})")
        if isinstance(exc, ClientAuthenticationError) or (
            isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)
        ):
            return PermanentError(
                f"Blob Storage refused {what} ({code or 'AuthenticationFailed'}): check "
                "storage_connection_string / storage_sas_token (read and list permissions on "
                "the container), or give client_id the Storage Blob Data Reader role"
            )
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return TransientError(f"could not reach Blob Storage reading {what}")
        if isinstance(exc, HttpResponseError):
            status = exc.status_code or 0
            if status == 429 or status >= 500:
                return TransientError(
                    f"Blob Storage kept failing ({code or status}) reading {what}"
                )
            return PermanentError(f"Blob Storage refused {what}: {code or status}")
        return exc

    def _call(self, what: str, fn: Callable[..., t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            translated = self.translate(exc, what)
            if translated is exc:
                raise
            raise translated from None

    # --- finding runs -------------------------------------------------------------
    def _manifest_names(self) -> list[tuple[str, dt.datetime | None]]:
        start = f"{self.prefix}/" if self.prefix else None

        def listing() -> list[tuple[str, dt.datetime | None]]:
            return [
                (blob.name, blob.last_modified)
                for blob in self.container.list_blobs(name_starts_with=start)
                if blob.name.rsplit("/", 1)[-1].lower() == "manifest.json"
            ]

        return t.cast(
            "list[tuple[str, dt.datetime | None]]",
            self._call(f"the container listing of {self.where}", listing),
        )

    def _read_json(self, name: str) -> dict[str, t.Any]:
        what = self._url(name)
        data = self._call(what, lambda: self.container.download_blob(name).readall())
        try:
            body = json.loads(data)
        except ValueError:
            raise PermanentError(f"{what} is not valid JSON") from None
        if not isinstance(body, dict):
            raise PermanentError(f"{what} is not a JSON object")
        return body

    def _url(self, name: str) -> str:
        return f"{self.account_url.rstrip('/')}/{self.container.container_name}/{name}"

    def runs(self) -> list[ExportRunInfo]:
        """The newest run of every export and billing month, by export then month."""
        names = self._manifest_names()
        if not names:
            raise PermanentError(
                f"no export manifests found under {self.where} (expected "
                "<prefix>/<export>/<YYYYMMDD-YYYYMMDD>/<time>/<run-id>/manifest.json from a "
                "Cost Management export with file partitioning): check container and prefix"
            )
        newest: dict[tuple[str, str], tuple[tuple[str, str], ExportRunInfo]] = {}
        for name, modified in names:
            run = self._describe(name, self._read_json(name))
            if run is None:
                continue
            if self.export_names and run.export_name not in self.export_names:
                continue
            stamp = modified.isoformat() if modified else ""
            order = (run.submitted_time, stamp + name)
            slot = (run.export_name, run.billing_period)
            if slot not in newest or order > newest[slot][0]:
                newest[slot] = (order, run)
        if not newest and self.export_names:
            raise PermanentError(
                f"no runs of export(s) {', '.join(sorted(self.export_names))} under "
                f"{self.where}: check export_names"
            )
        return [run for _, run in sorted(newest.values(), key=lambda v: v[1].state_key)]

    def _describe(self, name: str, manifest: dict[str, t.Any]) -> ExportRunInfo | None:
        what = self._url(name)
        config = manifest.get("exportConfig") or {}
        run_info = manifest.get("runInfo") or {}
        delivery = manifest.get("deliveryConfig") or {}
        export_type = str(config.get("type") or "")
        if export_type not in EXPORT_KINDS:
            self.logger.info("Skipping %s: export type %r is not a cost dataset", what, export_type)
            return None
        if str(delivery.get("fileFormat") or "Csv").lower() != "csv":
            raise PermanentError(
                f"{what}: the export writes {delivery.get('fileFormat')} files; tap-azure reads "
                "CSV exports (optionally gzip): set the export's file format to CSV"
            )
        run_id = str(run_info.get("runId") or "")
        start = str(run_info.get("startDate") or "")
        if not run_id or len(start) < 7:
            raise PermanentError(f"{what} has no runInfo.runId or runInfo.startDate")
        files = []
        for blob in manifest.get("blobs") or []:
            blob_name = str(blob.get("blobName") or "")
            if blob_name.startswith(("http://", "https://")):
                path = urlparse(blob_name).path.lstrip("/")
                blob_name = path.split("/", 1)[1] if "/" in path else path
            container = self.container.container_name
            if blob_name.startswith(f"{container}/") and not blob_name.startswith(
                f"{self.prefix}/"
            ):
                blob_name = blob_name[len(container) + 1 :]
            if blob_name:
                files.append(blob_name)
        return ExportRunInfo(
            export_kind=EXPORT_KINDS[export_type],
            export_name=str(config.get("exportName") or name.split("/")[-5]),
            export_type=export_type,
            billing_period=start[:7],
            run_id=run_id,
            manifest_blob=name,
            submitted_time=str(run_info.get("submittedTime") or ""),
            files=files,
            resource_id=str(config.get("resourceId") or ""),
        )

    # --- reading ------------------------------------------------------------------
    def open(self, name: str) -> t.BinaryIO:
        """A data file in a (spooled) temporary file, rewound."""
        what = self._url(name)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        try:
            downloader = self._call(what, self.container.download_blob, name)
            self._call(what, downloader.readinto, spool)
        except BaseException:
            spool.close()
            raise
        spool.seek(0)
        return t.cast("t.BinaryIO", spool)


def container_client(
    config: dict[str, t.Any], credential: t.Any | None
) -> tuple[ContainerClient, str]:
    """The container's client, and the account URL to name in messages (no secret)."""
    from azure.storage.blob import BlobServiceClient

    options: dict[str, t.Any] = {
        "retry_total": int(config.get("max_retries", 8)),
        "connection_timeout": float(config.get("request_timeout", 60)),
        "read_timeout": float(config.get("request_timeout", 60)),
        "user_agent": "finfocus-tap-azure",
    }
    container = str(config["container"])
    connection = config.get("storage_connection_string")
    if connection:
        try:
            service = BlobServiceClient.from_connection_string(str(connection), **options)
        except ValueError:
            raise ConfigError(
                "storage_connection_string is not a valid connection string"
            ) from None
    else:
        account = str(config["storage_account_url"]).rstrip("/")
        sas = config.get("storage_sas_token")
        secret = str(sas).lstrip("?") if sas else None
        service = BlobServiceClient(account, credential=secret or credential, **options)
    account_url = service.url.split("?", 1)[0].rstrip("/")
    return service.get_container_client(container), account_url


__all__ = ["EXPORT_KINDS", "BlobExports", "ExportRunInfo", "container_client"]
