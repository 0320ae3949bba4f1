"""A fake ICAv2 server: a real HTTP server following the public ICAv2 REST API (base path
`/ica/rest`, media type `application/vnd.illumina.v3+json`), for the parts a push uses:

- `GET  /api/projects` (`search`, `pageOffset`, `pageSize`) and `GET /api/projects/{projectId}`
- `GET  /api/projects/{projectId}/data` (`filePath`, `filePathMatchMode`, `type`, `pageSize`)
- `POST /api/projects/{projectId}/data` (`CreateData`: `name`, `folderPath`, `dataType`)
- `GET  /api/projects/{projectId}/data/{dataId}`
- `POST /api/projects/{projectId}/data/{dataId}:createTemporaryCredentials` (`awsTempCredentials`)

Project storage is a bucket in a local S3 server (the moto server: it accepts the session tokens
temporary credentials carry). Files are what that storage holds, as in ICAv2, which indexes the
objects written with temporary credentials. Authentication: `X-API-Key` or `Authorization:
Bearer`. Faults (429, 5xx) can be injected per path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.config import Config

MEDIA_TYPE = "application/vnd.illumina.v3+json"
TENANT_ID = "1a2b3c4d-tenant"


@dataclass
class Fault:
    method: str
    path_contains: str
    status: int
    times: int
    hits: int = 0


@dataclass
class FakeProject:
    id: str
    name: str
    folders: dict[str, str] = field(default_factory=dict)  # path -> data id


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


class FakeIcav2:
    def __init__(self, *, storage_endpoint: str, api_key: str = "", access_token: str = "") -> None:
        self.api_key = api_key or secrets.token_hex(16)
        self.access_token = access_token
        self.storage_endpoint = storage_endpoint
        self.storage_bucket = f"fake-icav2-storage-{secrets.token_hex(4)}"
        self.region = "us-east-1"
        self.projects: dict[str, FakeProject] = {}
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []
        self.credentials_issued: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.storage = boto3.client(
            "s3",
            endpoint_url=storage_endpoint,
            region_name=self.region,
            aws_access_key_id="fake-icav2",
            aws_secret_access_key="fake-icav2",
            config=Config(s3={"addressing_style": "path"}),
        )
        self.storage.create_bucket(Bucket=self.storage_bucket)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                path = unquote(parts.path)
                query = parse_qs(parts.query)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with fake.lock:
                    fake.requests.append((self.command, self.path))
                    fault = next(
                        (
                            f
                            for f in fake.faults
                            if f.method == self.command
                            and f.path_contains in path
                            and f.hits < f.times
                        ),
                        None,
                    )
                    if fault is not None:
                        fault.hits += 1
                if fault is not None:
                    return self._send(fault.status, _problem(fault.status, "Injected fault"))
                if not fake._authorized(self.headers):
                    return self._send(401, _problem(401, "Unauthorized", "Invalid API key"))
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self._send(400, _problem(400, "Bad Request", "Malformed JSON"))
                status, payload = fake.route(self.command, path, query, body)
                self._send(status, payload)

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                content_type = "application/problem+json" if status >= 400 else MEDIA_TYPE
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.base_url = self.url + "/ica/rest"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- Control (tests) -----------------------------------------------------------------------

    def start(self) -> FakeIcav2:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_project(self, name: str) -> FakeProject:
        project = FakeProject(id=str(uuid.uuid4()), name=name)
        with self.lock:
            self.projects[project.id] = project
        return project

    def fail(self, method: str, path_contains: str, status: int, times: int = 1) -> Fault:
        fault = Fault(method, path_contains, status, times)
        with self.lock:
            self.faults.append(fault)
        return fault

    def storage_key(self, project_id: str, path: str) -> str:
        """Object key of the project path `/a/b.txt` in the storage bucket."""
        return f"{TENANT_ID}/{project_id}{path}"

    def read_file(self, project_id: str, path: str) -> bytes:
        response = self.storage.get_object(
            Bucket=self.storage_bucket, Key=self.storage_key(project_id, path)
        )
        return bytes(response["Body"].read())

    def file_paths(self, project_id: str) -> list[str]:
        prefix = f"{TENANT_ID}/{project_id}"
        paginator = self.storage.get_paginator("list_objects_v2")
        return [
            item["Key"][len(prefix) :]
            for page in paginator.paginate(Bucket=self.storage_bucket, Prefix=prefix + "/")
            for item in page.get("Contents", [])
        ]

    # --- API -----------------------------------------------------------------------------------

    def _authorized(self, headers: Any) -> bool:
        if self.api_key and headers.get("X-API-Key") == self.api_key:
            return True
        return (
            bool(self.access_token)
            and headers.get("Authorization") == f"Bearer {self.access_token}"
        )

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        base = "/ica/rest/api"
        if not path.startswith(base):
            return 404, _problem(404, "Not Found")
        path = path[len(base) :]
        if method == "GET" and path == "/projects":
            return 200, self._projects(query)
        match = re.fullmatch(r"/projects/([^/]+)(/.*)?", path)
        if not match:
            return 404, _problem(404, "Not Found")
        project = self.projects.get(match.group(1))
        if project is None:
            return 404, _problem(404, "Not Found", f"Project {match.group(1)} not found")
        rest = match.group(2) or ""
        if method == "GET" and rest == "":
            return 200, self._project_json(project)
        if rest == "/data" and method == "GET":
            return 200, self._list_data(project, query)
        if rest == "/data" and method == "POST":
            return self._create_data(project, body or {})
        match = re.fullmatch(r"/data/([^/:]+)(:createTemporaryCredentials)?", rest)
        if match:
            data = self._data_by_id(project, match.group(1))
            if data is None:
                return 404, _problem(404, "Not Found", "Data not found")
            if method == "GET" and not match.group(2):
                return 200, data
            if method == "POST" and match.group(2):
                return self._temporary_credentials(project, data)
        return 404, _problem(404, "Not Found")

    def _project_json(self, project: FakeProject) -> dict[str, Any]:
        return {
            "id": project.id,
            "timeCreated": _now(),
            "timeModified": _now(),
            "ownerId": "owner-1",
            "tenantId": TENANT_ID,
            "tenantName": "fake-tenant",
            "name": project.name,
            "active": True,
            "region": {
                "id": "region-1",
                "code": "AU",
                "country": {"code": "AU", "name": "Australia"},
            },
            "billingMode": "PROJECT",
            "dataSharingEnabled": True,
            "tags": {"technicalTags": [], "userTags": [], "connectorTags": []},
        }

    def _projects(self, query: dict[str, list[str]]) -> dict[str, Any]:
        search = (query.get("search") or [""])[0].lower()
        offset = int((query.get("pageOffset") or ["0"])[0])
        size = int((query.get("pageSize") or ["100"])[0])
        matching = [p for p in self.projects.values() if search in p.name.lower()]
        page = matching[offset : offset + size]
        return {
            "items": [self._project_json(p) for p in page],
            "totalItemCount": len(matching),
            "nextPageToken": "",
        }

    def _folder_json(self, project: FakeProject, path: str, data_id: str) -> dict[str, Any]:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        return {
            "data": {
                "id": data_id,
                "urn": f"urn:ilmn:ica:region:1:data:{data_id}#{path}",
                "details": {
                    "timeCreated": _now(),
                    "timeModified": _now(),
                    "tenantId": TENANT_ID,
                    "owningProjectId": project.id,
                    "owningProjectName": project.name,
                    "name": name,
                    "path": path,
                    "status": "AVAILABLE",
                    "tags": {
                        "technicalTags": [],
                        "userTags": [],
                        "connectorTags": [],
                        "runInTags": [],
                        "runOutTags": [],
                        "referenceTags": [],
                    },
                    "dataType": "FOLDER",
                },
            },
            "projectId": project.id,
        }

    def _file_json(self, project: FakeProject, path: str, size: int, etag: str) -> dict[str, Any]:
        data_id = "fil." + hashlib.md5(f"{project.id}{path}".encode()).hexdigest()[:32]  # noqa: S324
        return {
            "data": {
                "id": data_id,
                "urn": f"urn:ilmn:ica:region:1:data:{data_id}#{path}",
                "details": {
                    "timeCreated": _now(),
                    "timeModified": _now(),
                    "tenantId": TENANT_ID,
                    "owningProjectId": project.id,
                    "owningProjectName": project.name,
                    "name": path.rsplit("/", 1)[-1],
                    "path": path,
                    "fileSizeInBytes": size,
                    "objectETag": etag,
                    "status": "AVAILABLE",
                    "tags": {
                        "technicalTags": [],
                        "userTags": [],
                        "connectorTags": [],
                        "runInTags": [],
                        "runOutTags": [],
                        "referenceTags": [],
                    },
                    "dataType": "FILE",
                },
            },
            "projectId": project.id,
        }

    def _all_data(self, project: FakeProject) -> list[dict[str, Any]]:
        items = [
            self._folder_json(project, path, data_id) for path, data_id in project.folders.items()
        ]
        prefix = f"{TENANT_ID}/{project.id}"
        paginator = self.storage.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.storage_bucket, Prefix=prefix + "/"):
            for item in page.get("Contents", []):
                items.append(
                    self._file_json(
                        project, item["Key"][len(prefix) :], item["Size"], item["ETag"].strip('"')
                    )
                )
        return items

    def _list_data(self, project: FakeProject, query: dict[str, list[str]]) -> dict[str, Any]:
        items = self._all_data(project)
        paths = query.get("filePath") or []
        mode = (query.get("filePathMatchMode") or ["STARTS_WITH_CASE_INSENSITIVE"])[0]
        if paths:
            wanted = [p.lower() for p in paths]
            if mode == "FULL_CASE_INSENSITIVE":
                items = [i for i in items if i["data"]["details"]["path"].lower() in wanted]
            else:
                items = [
                    i
                    for i in items
                    if any(i["data"]["details"]["path"].lower().startswith(w) for w in wanted)
                ]
        data_type = (query.get("type") or [""])[0]
        if data_type:
            items = [i for i in items if i["data"]["details"]["dataType"] == data_type]
        size = int((query.get("pageSize") or ["100"])[0])
        return {"items": items[:size], "totalItemCount": len(items), "nextPageToken": ""}

    def _create_data(self, project: FakeProject, body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("name")
        folder_path = body.get("folderPath") or "/"
        if body.get("dataType") not in ("FILE", "FOLDER") or not name or "/" in name:
            return 400, _problem(400, "Bad Request", "dataType and a name without '/' are required")
        if not folder_path.startswith("/") or not folder_path.endswith("/"):
            return 400, _problem(400, "Bad Request", "folderPath must start and end with '/'")
        if body["dataType"] != "FOLDER":
            return 400, _problem(400, "Bad Request", "Only folders are supported by this fake")
        path = f"{folder_path}{name}/"
        with self.lock:
            if path in project.folders:
                return 409, _problem(409, "Conflict", f"Data with path {path} already exists")
            # ICAv2 creates missing parent folders.
            parent = "/"
            for segment in folder_path.strip("/").split("/"):
                if segment:
                    parent = f"{parent}{segment}/"
                    project.folders.setdefault(parent, "fol." + uuid.uuid4().hex)
            project.folders[path] = "fol." + uuid.uuid4().hex
        return 201, self._folder_json(project, path, project.folders[path])

    def _data_by_id(self, project: FakeProject, data_id: str) -> dict[str, Any] | None:
        for path, folder_id in project.folders.items():
            if folder_id == data_id:
                return self._folder_json(project, path, folder_id)
        for item in self._all_data(project):
            if item["data"]["id"] == data_id:
                return item
        return None

    def _temporary_credentials(self, project: FakeProject, data: dict[str, Any]) -> tuple[int, Any]:
        details = data["data"]["details"]
        if details["dataType"] != "FOLDER":
            return 400, _problem(400, "Bad Request", "This fake hands out folder credentials only")
        credentials = {
            "accessKey": "ASIA" + secrets.token_hex(8).upper(),
            "secretKey": secrets.token_urlsafe(30),
            "sessionToken": secrets.token_urlsafe(60),
        }
        with self.lock:
            self.credentials_issued.append(credentials)
        return 200, {
            "awsTempCredentials": {
                **credentials,
                "region": self.region,
                "bucket": self.storage_bucket,
                "objectPrefix": self.storage_key(project.id, details["path"]).lstrip("/"),
                "serverSideEncryptionAlgorithm": "AES256",
            }
        }


def _problem(status: int, title: str, detail: str = "") -> dict[str, Any]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}
