"""The one module that talks to the Illumina Connected Analytics v2 REST API.

Plain HTTP (httpx) against the public API (base URL `.../ica/rest`, JSON media type
`application/vnd.illumina.v3+json`), the paths and fields libica and the icav2 CLI use:

- `GET  /api/projects/{projectId}`, `GET /api/projects?search=...`: resolve a project.
- `GET  /api/projects/{projectId}/data?filePath=...&type=FOLDER`: find a folder.
- `POST /api/projects/{projectId}/data` (`CreateData`: name, folderPath, dataType FOLDER).
- `POST /api/projects/{projectId}/data/{dataId}:createTemporaryCredentials`: AWS credentials
  (`awsTempCredentials`: bucket, objectPrefix, accessKey, secretKey, sessionToken, region) that
  let us write below the folder in the project's storage.

Authentication is an API key (`X-API-Key`) or a JWT (`Authorization: Bearer`). Neither, nor the
temporary credentials, is ever logged. Throttling (429) and 5xx answers are retried with backoff.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/vnd.illumina.v3+json"
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
PAGE_SIZE = 1000


class Icav2Error(Exception):
    """An ICAv2 API failure: `status` is the HTTP status (0 when ICAv2 could not be reached)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Icav2Project:
    id: str
    name: str


@dataclass(frozen=True)
class Icav2Data:
    id: str
    path: str  # absolute; folders end with "/"
    data_type: str  # FILE | FOLDER
    size: int | None = None


@dataclass(frozen=True)
class Icav2UploadCredentials:
    bucket: str
    object_prefix: str
    region: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    session_token: str = field(repr=False)


def _data_from_json(item: dict[str, Any]) -> Icav2Data:
    data = item.get("data", item)
    details = data.get("details") or {}
    size = details.get("fileSizeInBytes")
    return Icav2Data(
        id=str(data.get("id", "")),
        path=str(details.get("path", "")),
        data_type=str(details.get("dataType", "")),
        size=int(size) if size is not None else None,
    )


class Icav2Client:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str = "",
        access_token: str = "",
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_base: float = 0.5,
    ) -> None:
        if not api_key and not access_token:
            raise Icav2Error(
                "No ICAv2 credentials: set ICAV2_API_KEY or ICAV2_ACCESS_TOKEN (or their _FILE "
                "variants)."
            )
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": MEDIA_TYPE, "Content-Type": MEDIA_TYPE}
        if access_token:
            self._headers["Authorization"] = f"Bearer {access_token}"
        else:
            self._headers["X-API-Key"] = api_key
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        # Retries are ours (below); redirects are not followed. Connections beyond the eight
        # kept alive are opened rather than waited for.
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=8),
            follow_redirects=False,
        )

    # --- HTTP ----------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        url = f"{self.base_url}/api{path}"
        if query:
            url += "?" + urlencode(query, doseq=True)
        payload = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = self._http.request(method, url, content=payload, headers=self._headers)
            except httpx.HTTPError as exc:
                error = Icav2Error(f"ICAv2 unreachable ({method} {path}): {type(exc).__name__}")
            else:
                if response.status_code < 400:
                    return json.loads(response.content) if response.content else None
                error = Icav2Error(
                    f"ICAv2 answered {response.status_code} to {method} {path}: "
                    f"{self._problem(response.content)}",
                    status=response.status_code,
                )
                if response.status_code not in (429, 500, 502, 503, 504):
                    raise error
                header = response.headers.get("Retry-After")
                if header and header.isdigit():
                    retry_after = float(header)
            if attempt == self.max_attempts:
                raise error
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            logger.warning("%s; retrying in %.1fs (attempt %d)", error, delay, attempt)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return float(min(30.0, self.backoff_base * 2 ** (attempt - 1)) * (0.5 + random.random()))

    @staticmethod
    def _problem(raw: bytes) -> str:
        """The message of an RFC 7807 problem body (ICAv2 errors), else the start of the body."""
        try:
            problem = json.loads(raw)
        except ValueError:
            return raw[:200].decode(errors="replace")
        if isinstance(problem, dict):
            parts = [str(problem[key]) for key in ("title", "detail") if problem.get(key)]
            return ": ".join(parts) or json.dumps(problem)[:200]
        return str(problem)[:200]

    # --- Projects --------------------------------------------------------------------------------

    def get_project(self, project_id: str) -> Icav2Project | None:
        try:
            project = self._request("GET", f"/projects/{quote(project_id, safe='')}")
        except Icav2Error as exc:
            if exc.status == 404:
                return None
            raise
        return Icav2Project(id=project["id"], name=project.get("name", ""))

    def find_projects_by_name(self, name: str) -> list[Icav2Project]:
        """Projects whose name is exactly `name` (the search itself is a substring match)."""
        found: list[Icav2Project] = []
        offset = 0
        while True:
            page = self._request(
                "GET",
                "/projects",
                query={
                    "search": name,
                    "includeHiddenProjects": "false",
                    "pageSize": PAGE_SIZE,
                    "pageOffset": offset,
                },
            )
            items = page.get("items", [])
            found += [Icav2Project(p["id"], p["name"]) for p in items if p.get("name") == name]
            offset += len(items)
            total = page.get("totalItemCount")
            if not items or total is None or offset >= int(total):
                return found

    def resolve_project(self, project: str) -> Icav2Project:
        """A project by id (UUID) or by exact name; Icav2Error(404) when none or ambiguous."""
        if _UUID_RE.fullmatch(project):
            found = self.get_project(project)
            if found is not None:
                return found
        matches = self.find_projects_by_name(project)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise Icav2Error(
                f"No ICAv2 project with id or name {project!r} is visible to our API key.",
                status=404,
            )
        raise Icav2Error(
            f"{len(matches)} ICAv2 projects are named {project!r}; use the project id instead: "
            + ", ".join(p.id for p in matches),
            status=409,
        )

    # --- Data ----------------------------------------------------------------------------------

    def find_data(self, project_id: str, path: str, *, data_type: str) -> Icav2Data | None:
        """The file or folder at exactly `path` (folders end with "/")."""
        page = self._request(
            "GET",
            f"/projects/{quote(project_id, safe='')}/data",
            query={
                "filePath": path,
                "filePathMatchMode": "FULL_CASE_INSENSITIVE",
                "type": data_type,
                "pageSize": PAGE_SIZE,
            },
        )
        for item in page.get("items", []):
            data = _data_from_json(item)
            # The match mode ignores case; ICAv2 paths do not.
            if data.path == path:
                return data
        return None

    def create_folder(self, project_id: str, path: str) -> Icav2Data:
        """Create the folder `path` ("/a/b/"); ICAv2 creates missing parents itself."""
        parent, _, name = path.rstrip("/").rpartition("/")
        response = self._request(
            "POST",
            f"/projects/{quote(project_id, safe='')}/data",
            body={"name": name, "folderPath": (parent or "") + "/", "dataType": "FOLDER"},
        )
        return _data_from_json(response)

    def ensure_folder(self, project_id: str, path: str) -> Icav2Data:
        """The folder at `path`, created when missing (safe when another worker races us)."""
        existing = self.find_data(project_id, path, data_type="FOLDER")
        if existing is not None:
            return existing
        try:
            return self.create_folder(project_id, path)
        except Icav2Error as exc:
            if exc.status not in (400, 409):
                raise
            existing = self.find_data(project_id, path, data_type="FOLDER")
            if existing is None:
                raise
            return existing

    def create_upload_credentials(self, project_id: str, data_id: str) -> Icav2UploadCredentials:
        """Temporary AWS credentials allowing writes below the folder `data_id`."""
        response = self._request(
            "POST",
            f"/projects/{quote(project_id, safe='')}/data/{quote(data_id, safe='')}"
            ":createTemporaryCredentials",
            body={},
        )
        aws = (response or {}).get("awsTempCredentials")
        if not aws:
            raise Icav2Error(
                "ICAv2 returned no AWS credentials for the folder (is the project's storage on "
                "AWS S3?)."
            )
        return Icav2UploadCredentials(
            bucket=aws["bucket"],
            object_prefix=aws["objectPrefix"],
            region=aws.get("region") or "",
            access_key=aws["accessKey"],
            secret_key=aws["secretKey"],
            session_token=aws.get("sessionToken") or "",
        )


def client() -> Icav2Client:
    """A client configured from settings (ICAV2_BASE_URL, ICAV2_API_KEY / ICAV2_ACCESS_TOKEN)."""
    return Icav2Client(
        base_url=settings.ICAV2_BASE_URL,
        api_key=settings.ICAV2_API_KEY,
        access_token=settings.ICAV2_ACCESS_TOKEN,
        timeout=settings.ICAV2_TIMEOUT,
        max_attempts=settings.ICAV2_MAX_ATTEMPTS,
    )
