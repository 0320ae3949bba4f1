"""Where the server is and who we are: environment variables, else a TOML config file.

Environment variables win over the file, key by key, so a one-off `DATA_SHARING_URL=... data-
sharing-tool ...` works with the token from the file. The token is never printed: `Config`
hides it from `repr`, and no message in this tool includes it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from data_sharing_tool.errors import CliError, ExitCode

URL_VARIABLE = "DATA_SHARING_URL"
TOKEN_VARIABLE = "DATA_SHARING_TOKEN"  # noqa: S105 - a variable name, not a secret
CONFIG_VARIABLE = "DATA_SHARING_CONFIG"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class Config:
    url: str
    token: str = field(repr=False)
    config_file: Path | None = None
    warnings: tuple[str, ...] = ()


def default_config_path(env: Mapping[str, str]) -> Path:
    if env.get(CONFIG_VARIABLE):
        return Path(env[CONFIG_VARIABLE]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "data-sharing-tool" / "config.toml"


def _read_config_file(path: Path, *, explicit: bool) -> dict[str, str]:
    if not path.exists():
        if explicit:
            raise CliError(
                f"Config file {path} ({CONFIG_VARIABLE}) does not exist.", exit_code=ExitCode.CONFIG
            )
        return {}
    try:
        parsed = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CliError(
            f"Cannot read config file {path}: {exc}", exit_code=ExitCode.CONFIG
        ) from None
    values: dict[str, str] = {}
    for key in ("url", "token"):
        value = parsed.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise CliError(
                f"Config file {path}: {key!r} must be a string.", exit_code=ExitCode.CONFIG
            )
        values[key] = value.strip()
    unknown = sorted(set(parsed) - {"url", "token"})
    if unknown:
        raise CliError(
            f"Config file {path}: unknown key(s) {', '.join(unknown)} (known: url, token).",
            exit_code=ExitCode.CONFIG,
        )
    return values


def normalize_url(url: str, *, source: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(
            f"{source}: {url!r} is not an http(s) URL such as https://datasharing.example.org",
            exit_code=ExitCode.CONFIG,
        )
    if parts.query or parts.fragment:
        raise CliError(
            f"{source}: the URL must not have a query or fragment.", exit_code=ExitCode.CONFIG
        )
    return url.strip().rstrip("/")


def load_config(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    path = default_config_path(env)
    from_file = _read_config_file(path, explicit=bool(env.get(CONFIG_VARIABLE)))
    warnings: list[str] = []

    url = (env.get(URL_VARIABLE) or "").strip()
    url_source = URL_VARIABLE
    if not url and from_file.get("url"):
        url, url_source = from_file["url"], f"{path} (url)"
    token = (env.get(TOKEN_VARIABLE) or "").strip()
    if not token and from_file.get("token"):
        token = from_file["token"]
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(
                f"{path} holds your token and is readable by other users: chmod 600 {path}"
            )

    if not url:
        raise CliError(
            f"No server configured: set {URL_VARIABLE} (e.g. http://127.0.0.1:8000) or put "
            f'url = "..." in {path}.',
            exit_code=ExitCode.CONFIG,
        )
    if not token:
        raise CliError(
            f'No API token configured: set {TOKEN_VARIABLE} or put token = "..." in {path} '
            "(an administrator creates one with `manage.py create_api_token USERNAME`).",
            exit_code=ExitCode.CONFIG,
        )
    if any(ch.isspace() or ord(ch) < 32 for ch in token):
        raise CliError(
            "The API token contains whitespace or control characters.", exit_code=ExitCode.CONFIG
        )
    url = normalize_url(url, source=url_source)
    host = urlsplit(url).hostname or ""
    if url.startswith("http://") and host not in LOOPBACK_HOSTS:
        warnings.append(f"sending the API token to {host} over unencrypted http")
    return Config(
        url=url, token=token, config_file=path if from_file else None, warnings=tuple(warnings)
    )
