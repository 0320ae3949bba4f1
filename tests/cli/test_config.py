"""Configuration: environment variables, the config file, and a token that is never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_sharing_tool.config import Config, load_config
from data_sharing_tool.errors import CliError, ExitCode


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_environment_wins_over_the_config_file_key_by_key(tmp_path: Path) -> None:
    write_config(
        tmp_path / "data-sharing-tool" / "config.toml",
        'url = "https://file.example.org/"\ntoken = "file-token"\n',
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert load_config(env) == Config(
        url="https://file.example.org",
        token="file-token",
        config_file=tmp_path / "data-sharing-tool" / "config.toml",
    )
    config = load_config({**env, "DATA_SHARING_URL": "http://127.0.0.1:8001"})
    assert (config.url, config.token) == ("http://127.0.0.1:8001", "file-token")
    config = load_config({**env, "DATA_SHARING_TOKEN": "env-token"})
    assert (config.url, config.token) == ("https://file.example.org", "env-token")


def test_the_token_is_not_in_the_config_repr() -> None:
    config = load_config(
        {"DATA_SHARING_URL": "http://localhost:8000", "DATA_SHARING_TOKEN": "s3cr3t"}
    )
    assert "s3cr3t" not in repr(config)


def test_data_sharing_config_names_another_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "elsewhere.toml", 'url = "http://localhost:1"\ntoken = "t"\n')
    assert load_config({"DATA_SHARING_CONFIG": str(path)}).url == "http://localhost:1"
    with pytest.raises(CliError, match="does not exist") as exc:
        load_config({"DATA_SHARING_CONFIG": str(tmp_path / "missing.toml")})
    assert exc.value.exit_code == ExitCode.CONFIG


def test_a_config_file_readable_by_others_gives_a_warning(tmp_path: Path) -> None:
    write_config(
        tmp_path / "data-sharing-tool" / "config.toml",
        'url = "http://localhost:8000"\ntoken = "t"\n',
        mode=0o644,
    )
    config = load_config({"XDG_CONFIG_HOME": str(tmp_path)})
    assert any("readable by other users" in w for w in config.warnings)


def test_plain_http_to_another_host_gives_a_warning() -> None:
    config = load_config(
        {"DATA_SHARING_URL": "http://datasharing.example.org", "DATA_SHARING_TOKEN": "t"}
    )
    assert config.warnings == (
        "sending the API token to datasharing.example.org over unencrypted http",
    )
    assert (
        load_config(
            {"DATA_SHARING_URL": "http://127.0.0.1:8000", "DATA_SHARING_TOKEN": "t"}
        ).warnings
        == ()
    )


@pytest.mark.parametrize(
    ("env", "config_text", "message"),
    [
        ({}, None, "No server configured"),
        ({"DATA_SHARING_URL": "http://localhost:8000"}, None, "No API token configured"),
        ({"DATA_SHARING_URL": "ftp://x", "DATA_SHARING_TOKEN": "t"}, None, "not an http(s) URL"),
        (
            {"DATA_SHARING_URL": "localhost:8000", "DATA_SHARING_TOKEN": "t"},
            None,
            "not an http(s) URL",
        ),
        ({"DATA_SHARING_URL": "http://h/?a=1", "DATA_SHARING_TOKEN": "t"}, None, "query"),
        ({"DATA_SHARING_URL": "http://h", "DATA_SHARING_TOKEN": "a b"}, None, "whitespace"),
        ({}, "url = ", "Cannot read config file"),
        ({}, "url = 8000\n", "must be a string"),
        ({}, 'url = "http://h"\npassword = "x"\n', "unknown key(s) password"),
    ],
)
def test_bad_configuration_is_a_config_error(
    tmp_path: Path, env: dict[str, str], config_text: str | None, message: str
) -> None:
    if config_text is not None:
        write_config(tmp_path / "data-sharing-tool" / "config.toml", config_text)
    with pytest.raises(CliError) as exc:
        load_config({"XDG_CONFIG_HOME": str(tmp_path), **env})
    assert message in exc.value.message
    assert exc.value.exit_code == ExitCode.CONFIG
