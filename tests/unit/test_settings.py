from pathlib import Path

import pytest

from monitor.settings import SettingsError, load_settings


def test_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    monkeypatch.setenv("MONITOR_HTTP_PORT", "9100")
    settings = load_settings()
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 9100)


def test_unknown_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_HTTP_PROT", "1")
    with pytest.raises(SettingsError, match="unknown setting MONITOR_HTTP_PROT in the environment"):
        load_settings()


def test_ill_typed_environment_variable_names_key_and_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MONITOR_HTTP_PORT", "eighty")
    expected = "MONITOR_HTTP_PORT = 'eighty': expected a value of type int"
    with pytest.raises(SettingsError, match=expected):
        load_settings()


def test_unknown_and_ill_typed_toml_keys_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('store = "mongodb"\n[http]\nportt = 1\n')
    monkeypatch.setenv("MONITOR_CONFIG", str(config))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"{config} [http] portt: unknown key" in message
    assert f"{config} store = 'mongodb': expected one of 'sqlite'" in message


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", "/nonexistent/monitor.toml")
    with pytest.raises(SettingsError, match="no such file"):
        load_settings()
