"""The REST API of the datasharing service, over httpx.

One method per endpoint the CLI uses. Errors become `ApiError` with the server's message (the
API's error JSON is `{"message", "details"}`) and an exit code per status class; transport
failures become `CliError` with `ExitCode.NETWORK`. Nothing here prints, and no message includes
the token.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from data_sharing_tool import __version__
from data_sharing_tool.config import Config
from data_sharing_tool.errors import ApiError, CliError, ExitCode, exit_code_for_status

ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")
MAX_ROWS_PER_PAGE = 1000
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def normalize_job_id(value: str, *, prefix: str) -> str:
    """`pkg.<ULID>` or a bare ULID; anything else is refused before a request is made."""
    raw = value.strip()
    if raw.startswith(f"{prefix}."):
        raw = raw[len(prefix) + 1 :]
    if not ULID_RE.fullmatch(raw):
        kind = "package" if prefix == "pkg" else "push job"
        raise CliError(
            f"{value!r} is not a {kind} id (expected {prefix}.<26-character id>)",
            exit_code=ExitCode.INVALID_INPUT,
        )
    return f"{prefix}.{raw.upper()}"


def _error_message(response: httpx.Response) -> tuple[str, Any]:
    """The server's message and details, or a readable summary of a non-JSON error page."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"], body.get("details")
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return body["detail"], None
    snippet = re.sub(r"<[^>]+>", " ", response.text[:300])
    snippet = " ".join(snippet.split())
    reason = response.reason_phrase or "error"
    return f"HTTP {response.status_code} {reason}" + (f": {snippet}" if snippet else ""), None


def _status_hint(status_code: int, message: str) -> str:
    if status_code == 401:
        return " (check DATA_SHARING_TOKEN: the server did not accept it)"
    if status_code == 403 and ("role" in message or "permission to perform" in message):
        return " (viewers read; curators also create packages, push and presign)"
    return ""


class Client:
    def __init__(
        self,
        config: Config,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = config.url
        self._http = httpx.Client(
            base_url=config.url,
            headers={
                "Authorization": f"Bearer {config.token}",
                "Accept": "application/json",
                "User-Agent": f"data-sharing-tool/{__version__}",
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        url = f"/api/v1/{path}"
        try:
            response = self._http.request(
                method,
                url,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=json_body,
            )
        except httpx.TimeoutException:
            raise CliError(
                f"The server at {self.base_url} did not answer in time ({method} {url}).",
                exit_code=ExitCode.NETWORK,
            ) from None
        except httpx.TransportError as exc:
            raise CliError(
                f"Cannot reach the server at {self.base_url}: {exc or type(exc).__name__}",
                exit_code=ExitCode.NETWORK,
            ) from None
        if response.is_redirect:
            raise CliError(
                f"The server redirected {method} {url} to {response.headers.get('location')}: "
                "check DATA_SHARING_URL (scheme, host and path prefix).",
                exit_code=ExitCode.CONFIG,
            )
        if response.status_code >= 400:
            message, details = _error_message(response)
            if response.status_code == 404 and message.startswith("No such endpoint"):
                message += " (is DATA_SHARING_URL the datasharing service, and is it up to date?)"
            raise ApiError(
                message + _status_hint(response.status_code, message),
                status_code=response.status_code,
                exit_code=exit_code_for_status(response.status_code),
                details=details,
            )
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CliError(
                f"The server answered {method} {url} with something that is not JSON "
                f"({response.headers.get('content-type', 'no content type')}): is "
                "DATA_SHARING_URL the datasharing service?",
                exit_code=ExitCode.ERROR,
            ) from None

    def download(self, path: str, *, destination: Path, params: Mapping[str, Any]) -> int:
        """Stream a file endpoint into `destination` (written whole or not at all); bytes."""
        url = f"/api/v1/{path}"
        partial = destination.with_name(f".{destination.name}.partial")
        try:
            with self._http.stream(
                "GET", url, params=params, headers={"Accept": "*/*"}
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    message, details = _error_message(response)
                    raise ApiError(
                        message + _status_hint(response.status_code, message),
                        status_code=response.status_code,
                        exit_code=exit_code_for_status(response.status_code),
                        details=details,
                    )
                written = 0
                with partial.open("wb") as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                        written += len(chunk)
            partial.replace(destination)
            return written
        except httpx.TimeoutException:
            raise CliError(
                f"The server at {self.base_url} did not answer in time (GET {url}).",
                exit_code=ExitCode.NETWORK,
            ) from None
        except httpx.TransportError as exc:
            raise CliError(
                f"Cannot reach the server at {self.base_url}: {exc or type(exc).__name__}",
                exit_code=ExitCode.NETWORK,
            ) from None
        except OSError as exc:
            raise CliError(
                f"Cannot write {destination}: {exc.strerror or exc}",
                exit_code=ExitCode.INVALID_INPUT,
            ) from None
        finally:
            partial.unlink(missing_ok=True)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def paginate(
        self, path: str, *, limit: int | None, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Rows of a list endpoint (SPEC §10 envelope), page by page, up to `limit` rows."""
        page = 1
        rows_per_page = min(MAX_ROWS_PER_PAGE, limit) if limit else MAX_ROWS_PER_PAGE
        yielded = 0
        while True:
            body = self.request(
                "GET", path, params={**(params or {}), "page": page, "rowsPerPage": rows_per_page}
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise CliError(f"Unexpected list response from {path}.", exit_code=ExitCode.ERROR)
            for row in body["results"]:
                if limit is not None and yielded >= limit:
                    return
                yield row
                yielded += 1
            pagination = body.get("pagination") or {}
            count = pagination.get("count")
            if not body["results"] or (isinstance(count, int) and page * rows_per_page >= count):
                return
            if not (body.get("links") or {}).get("next") and not isinstance(count, int):
                return
            page += 1

    # --- packages -------------------------------------------------------------------------------

    def package_create(self, *, package_name: str, package_request: dict[str, Any]) -> Any:
        return self.request(
            "POST",
            "package/",
            json_body={"packageName": package_name, "packageRequest": package_request},
        )

    def package_dry_run(self, *, package_name: str, package_request: dict[str, Any]) -> Any:
        return self.request(
            "POST",
            "package:dryRun",
            json_body={"packageName": package_name, "packageRequest": package_request},
        )

    def package_get(self, package_id: str) -> Any:
        return self.get(f"package/{quote(package_id, safe='.')}")

    def packages_list(self, *, limit: int | None, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.paginate("package/", limit=limit, params=filters)

    def package_report_url(self, package_id: str) -> Any:
        return self.get(f"package/{quote(package_id, safe='.')}:getSummaryReport")

    def package_report_download(self, package_id: str, *, destination: Path, pdf: bool) -> int:
        return self.download(
            f"package/{quote(package_id, safe='.')}/report",
            destination=destination,
            params={"format": "pdf" if pdf else "html"},
        )

    def package_presign(
        self, package_id: str, *, file_url_expiry_seconds: int | None = None
    ) -> Any:
        body = {}
        if file_url_expiry_seconds is not None:
            body["fileUrlExpirySeconds"] = file_url_expiry_seconds
        return self.request(
            "POST", f"package/{quote(package_id, safe='.')}:presign", json_body=body
        )

    def package_push(self, package_id: str, *, share_destination: str) -> Any:
        return self.request(
            "POST",
            f"package/{quote(package_id, safe='.')}:push",
            json_body={"shareDestination": share_destination},
        )

    # --- push jobs ------------------------------------------------------------------------------

    def push_get(self, push_job_id: str) -> Any:
        return self.get(f"push/{quote(push_job_id, safe='.')}")

    def pushes_list(self, *, limit: int | None, **filters: Any) -> Iterator[dict[str, Any]]:
        return self.paginate("push", limit=limit, params=filters)
