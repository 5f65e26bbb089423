"""Monitor settings: ``config/monitor.toml`` overridden by ``MONITOR_*`` variables.

A TOML key ``port`` under ``[http]`` and the variable ``MONITOR_HTTP_PORT``
both set the field ``http_port``. An unknown key or a value of the wrong type
stops start-up with a :class:`SettingsError` that names the key, where it came
from and the type expected. Settings are built in ``main()`` and passed down.
"""

from __future__ import annotations

import os
import socket
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from monitor.domain.assessments import Workflow
from monitor.domain.limits import Profile, ProfileError, load_profiles

ENV_PREFIX: Final = "MONITOR_"
CONFIG_VARIABLE: Final = "MONITOR_CONFIG"
DEFAULT_CONFIG: Final = Path("config/monitor.toml")
PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
SECRET_FIELDS: Final = frozenset({"bootstrap_token", "influx_token", "influx_password",
                                  "database_url"})


class SettingsError(ValueError):
    """Settings that cannot be used; the message says which key and why."""


def config_path(environ: Mapping[str, str]) -> Path | None:
    """The monitor.toml in force: ``MONITOR_CONFIG``, else ``config/monitor.toml`` if present.

    Raises:
        SettingsError: ``MONITOR_CONFIG`` names a file that does not exist.
    """
    named = environ.get(CONFIG_VARIABLE)
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"{CONFIG_VARIABLE}={named}: no such file")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def read_sectioned_toml(path: Path) -> dict[str, tuple[Any, str]]:
    """Flatten ``[section] key`` to ``section_key``: field name -> (value, where it stands).

    Raises:
        SettingsError: The file is not valid TOML.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
    flat: dict[str, tuple[Any, str]] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                flat[f"{key}_{inner}"] = (inner_value, f"{path} [{key}] {inner}")
        else:
            flat[key] = (value, f"{path} {key}")
    return flat


class _SectionedTomlSource(PydanticBaseSettingsSource):
    """Reads monitor.toml for pydantic-settings, below the environment in priority."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self._values = {k: v for k, (v, _) in read_sectioned_toml(path).items()} if path else {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._values)


class Settings(BaseSettings):
    """Everything the monitor can be told at start-up."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://[user:pass@]host:port (mqtts:// for TLS); unset: embedded broker",
    )
    mqtt_ca_file: Path | None = Field(
        default=None, description="CA certificate(s) of the broker for mqtts:// (else system CAs)"
    )
    mqtt_client_id: str = Field(
        default="infusion-monitor",
        description="fixed client id: the broker keeps this persistent session's queue",
    )
    mqtt_protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT protocol version for an external broker"
    )
    mqtt_sites: list[str] = Field(
        default=["+"], description="sites this instance subscribes to ('+' for all)"
    )
    mqtt_session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=60,
        description="how long the broker keeps the queue while the monitor is away (MQTT 5)",
    )
    broker_alarm_after_s: float = Field(
        default=5.0, gt=0, description="raise broker_offline after this long without a broker"
    )
    embedded_broker_port: int = Field(
        default=1883, ge=0, le=65535,
        description="port of the embedded broker (0: any free port)",
    )
    bootstrap_token: SecretStr | None = Field(
        default=None,
        description="an admin token accepted from start-up, for automation (24+ characters)",
    )
    http_host: str = Field(default="127.0.0.1", description="address the HTTP API listens on")
    http_port: int = Field(default=8000, ge=0, le=65535, description="HTTP port (0: any free)")
    data_dir: Path = Field(default=Path("var"), description="where SQLite files live")
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:pass@host/db: the record store in PostgreSQL (with "
        "store 'postgres' or 'influx'); unset: SQLite under data_dir",
    )
    instance: str = Field(
        default_factory=socket.gethostname, pattern=r"^[^/+#]+$",
        description="this monitor's name among several (the database and its status topic "
        "infusion/system/monitor/<instance>/status name it); default: the host name",
    )
    failover_s: float = Field(
        default=10.0, ge=2, le=300,
        description="with PostgreSQL: a standby takes over within this long of the active "
        "monitor's death or loss of the database",
    )
    store: Literal["sqlite", "influx", "postgres"] = Field(
        default="sqlite",
        description="vitals time-series store ('postgres': with the records in database_url)",
    )
    influx_url: str = Field(default="http://127.0.0.1:8086",
                            description="InfluxDB (v1-compatible API: 1.x, 2.x or 3)")
    influx_db: str = Field(default="infusion", description="database (a bucket on 2.x/3)")
    influx_token: SecretStr | None = Field(
        default=None, description="token (2.x/3, or 1.8+ as user:password)")
    influx_username: str | None = Field(default=None, description="user (1.x basic auth)")
    influx_password: SecretStr | None = Field(default=None, description="password (1.x)")
    outbox_batch: int = Field(default=5000, ge=1, description="readings per InfluxDB write")
    retention_days: float | None = Field(
        default=None, gt=0,
        description="prune raw readings older than this (reports are kept); unset: keep all",
    )
    gap_alarm_readings: int = Field(
        default=10, ge=1,
        description="a seq gap of more readings than this raises data_gap on the bed")
    dead_letters_max_rows: int = Field(
        default=10_000, ge=1, description="dead letters kept at most (the oldest are pruned)")
    dead_letters_max_bytes: int = Field(
        default=16 * 1024 * 1024, ge=4096,
        description="bytes of dead-letter payload kept at most (each keeps its first 4 KiB)")
    batch_size: int = Field(
        default=5_000, ge=1,
        description="readings per storage commit, at most (a backlog drains in big commits; "
        "live readings are committed together every 50 ms)",
    )
    ingest_queue_size: int = Field(
        default=20_000, ge=10, description="messages between the MQTT receiver and processing"
    )
    ws_queue_size: int = Field(
        default=1_000, ge=10,
        description="messages queued per board client before it is sent a fresh snapshot",
    )
    ws_send_timeout_s: float = Field(
        default=5.0, gt=0, description="a board screen that takes no frame this long is let go"
    )
    thresholds_file: Path = Field(
        default=PROJECT_ROOT / "config" / "thresholds.toml",
        description="threshold profiles (TOML)",
    )
    thresholds_profile: str = Field(
        default="ketamine-default", description="profile for new sessions"
    )
    paging_file: Path | None = Field(
        default=PROJECT_ROOT / "config" / "paging.toml",
        description="who is paged for which alarms (TOML); unset: nobody is paged",
    )
    workflow_sedation_scale: Literal["moaas", "rass"] = Field(
        default="moaas", description="sedation is scored on MOAA/S (0-5) or RASS (-5..+4)")
    workflow_dissociation_scale: Literal["cadss6", "dissociation_nrs"] = Field(
        default="cadss6", description="dissociation is scored on CADSS-6 or a 0-10 rating")
    workflow_discharge_scale: Literal["aldrete", "padss"] = Field(
        default="aldrete", description="fit to leave: modified Aldrete or PADSS, 9 or more")
    workflow_concentration_mg_per_ml: float = Field(
        default=1.0, gt=0, le=100,
        description="the infusion bag's drug concentration, for rates in mL/h")
    tick_interval_s: float = Field(
        default=1.0, gt=0, le=5,
        description="how often silence, pauses and reminders are checked",
    )
    dashboard_dir: Path = Field(
        default=PROJECT_ROOT / "dashboard", description="static files of the nurses' board"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then monitor.toml."""
        toml = _SectionedTomlSource(settings_cls, config_path(os.environ))
        return (init_settings, env_settings, toml)


def _expected(name: str) -> str:
    field = Settings.model_fields.get(name)
    if field is None:
        return "no such setting"
    annotation = field.annotation
    if typing.get_origin(annotation) is Literal:
        return "one of " + ", ".join(repr(choice) for choice in typing.get_args(annotation))
    return f"a value of type {getattr(annotation, '__name__', None) or annotation}"


def _origin(name: str, environ: Mapping[str, str], toml: Mapping[str, tuple[Any, str]]) -> str:
    variable = ENV_PREFIX + name.upper()
    if variable in environ:
        return f"environment variable {variable}"
    if name in toml:
        return toml[name][1]
    return f"setting {name}"


def load_settings(**overrides: Any) -> Settings:  # noqa: ANN401 - field values of any type
    """Build the settings from the environment and monitor.toml (and ``overrides``).

    Raises:
        SettingsError: A key is unknown or a value is of the wrong type.
    """
    environ = dict(os.environ)
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_VARIABLE}
    unknown = sorted(key for key in environ if key.startswith(ENV_PREFIX) and key not in known)
    if unknown:
        raise SettingsError(
            f"unknown setting {unknown[0]} in the environment; known: {', '.join(sorted(known))}"
        )
    path = config_path(environ)
    toml = read_sectioned_toml(path) if path else {}
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else "?"
            where = _origin(name, environ, toml)
            if problem["type"] == "extra_forbidden":
                lines.append(f"{where}: unknown key (known: {', '.join(Settings.model_fields)})")
            else:
                shown = "<hidden>" if name in SECRET_FIELDS else repr(problem["input"])
                lines.append(f"{where} = {shown}: expected {_expected(name)} ({problem['msg']})")
        raise SettingsError("; ".join(lines)) from None


def workflow_of(settings: Settings) -> Workflow:
    """The clinic's scales and infusion bag."""
    return Workflow(
        sedation_scale=settings.workflow_sedation_scale,
        dissociation_scale=settings.workflow_dissociation_scale,
        discharge_scale=settings.workflow_discharge_scale,
        concentration_mg_per_ml=settings.workflow_concentration_mg_per_ml,
    )


def read_profiles(settings: Settings) -> dict[str, Profile]:
    """Load the threshold profiles and check the default one exists.

    Raises:
        SettingsError: The file is missing or invalid, or lacks the profile.
    """
    path = settings.thresholds_file
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        profiles = load_profiles(document, str(path))
    except OSError as error:
        raise SettingsError(f"thresholds file {path}: {error.strerror}") from None
    except (tomllib.TOMLDecodeError, ProfileError) as error:
        raise SettingsError(f"thresholds file {path}: {error}") from None
    if settings.thresholds_profile not in profiles:
        raise SettingsError(
            f"thresholds_profile {settings.thresholds_profile!r} is not in {path} "
            f"(it has {', '.join(sorted(profiles))})"
        )
    return profiles
