"""The deployment files (docker-compose.yml, deploy/) agree with the code they start: every
command line parses, every setting they name exists, and nginx's body limit is micromailer's.
No container engine runs here, so the files are checked against the code instead."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from micromailer.cli import main
from micromailer.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
KUBERNETES = ROOT / "deploy" / "kubernetes" / "base"
NGINX = ROOT / "deploy" / "nginx" / "micromailer.conf"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
#: Not settings: Kubernetes' downward API, used in a setting's value.
SERVER_VARIABLES = {"POD_IP"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def manifests() -> list[dict[str, Any]]:
    return [document for path in sorted(KUBERNETES.glob("*.yaml"))
            for document in yaml.safe_load_all(path.read_text()) if document]


def micromailer_commands() -> list[list[str]]:
    """Every micromailer command line the files start, as argument lists."""
    commands = [service["command"] for service in compose()["services"].values()
                if (service.get("image", "").startswith("micromailer") or "build" in service)
                and "entrypoint" not in service]
    for document in manifests():
        if document["kind"] in ("Deployment", "Job"):
            commands += [container["args"]
                         for container in document["spec"]["template"]["spec"]["containers"]
                         if runs_micromailer(container)]
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    assert dockerfile_cmd is not None
    return [*commands, yaml.safe_load(dockerfile_cmd.group(1))]


def runs_micromailer(container: dict[str, Any]) -> bool:
    """A container of the micromailer image on its entrypoint (Flower's runs celery)."""
    return bool(container["image"].startswith("micromailer") and "command" not in container)


def setting_names() -> set[str]:
    names = {f"MICROMAILER_{name.upper()}" for name in Settings.model_fields}
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        names |= {choice for choice in getattr(alias, "choices", []) if isinstance(choice, str)}
    return names


def variables_named() -> set[str]:
    named: set[str] = set()
    for service in compose()["services"].values():
        if "entrypoint" not in service:  # Flower runs celery, with variables of its own
            named |= set(service.get("environment") or {})
    for document in manifests():
        if (document["kind"] in ("ConfigMap", "Secret")
                and document["metadata"]["name"] == "micromailer"):  # the others are not ours
            named |= set(document.get("data") or document.get("stringData") or {})
        if document["kind"] == "Deployment":
            for container in document["spec"]["template"]["spec"]["containers"]:
                if runs_micromailer(container):
                    named |= {variable["name"] for variable in container.get("env", [])}
    return {name for name in named if not name.startswith(("POSTGRES_", "RABBITMQ_"))}


def test_the_files_start_the_roles_they_are_meant_to() -> None:
    roles = {command[0] for command in micromailer_commands()}
    assert roles == {"run", "serve", "worker", "sandbox", "db"}


@pytest.mark.parametrize("command", micromailer_commands(), ids=" ".join)
def test_every_command_line_parses(command: list[str]) -> None:
    context = main.make_context("micromailer", list(command))
    name, subcommand, rest = main.resolve_command(context, [*context.protected_args,
                                                            *context.args])
    assert subcommand is not None, f"no such command: {name}"
    try:
        subcommand.make_context(name or "", rest, parent=context)
    except click.UsageError as error:
        pytest.fail(f"`micromailer {' '.join(command)}`: {error}")


def test_every_variable_the_files_set_is_a_setting() -> None:
    unknown = variables_named() - setting_names() - SERVER_VARIABLES
    assert not unknown, f"not micromailer settings: {sorted(unknown)}"


def test_the_distributed_files_name_all_three_servers() -> None:
    environment = compose()["services"]["worker"]["environment"]
    assert environment["MICROMAILER_DATABASE_URL"].startswith("postgresql://")
    assert environment["MICROMAILER_BROKER_URL"].startswith("amqp://")
    assert environment["MICROMAILER_REDIS_URL"].startswith("redis://")
    secret = next(document for document in manifests() if document["kind"] == "Secret")
    assert {"MICROMAILER_DATABASE_URL", "MICROMAILER_BROKER_URL"} <= set(secret["stringData"])


def test_the_api_probes_use_the_health_routes() -> None:
    api = next(document for document in manifests()
               if document["kind"] == "Deployment" and document["metadata"]["name"].endswith("api"))
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_nginx_refuses_bodies_over_micromailers_own_limit() -> None:
    """Not over a larger one: tests/deploy/test_nginx.py shows why."""
    match = re.search(r"client_max_body_size (\d+)([km]?);", NGINX.read_text())
    assert match is not None
    limit = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2}[match.group(2)]
    assert limit == Settings(_env_file=None).max_body_bytes  # type: ignore[call-arg]


def test_nginx_proxies_to_the_port_the_api_listens_on() -> None:
    upstream = re.search(r"server api:(\d+);", NGINX.read_text())
    command = compose()["services"]["api"]["command"]
    assert upstream is not None
    assert upstream.group(1) == command[command.index("--port") + 1]


def test_the_installed_package_carries_its_migrations_and_web_page(tmp_path: Path) -> None:
    """The image installs a wheel, not the source tree: what it needs at run time must be in
    the wheel."""
    # Built from a clean copy: a build/ or .egg-info/ left in the tree would add what they
    # listed before, and hide a file the package data no longer names.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(tmp_path), str(source)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("micromailer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "micromailer/store/migrations/env.py" in names
    assert any(name.startswith("micromailer/store/migrations/versions/") for name in names)
    static = ROOT / "src" / "micromailer" / "api" / "static"
    web_page = {f"micromailer/api/static/{path.relative_to(static).as_posix()}"
                for path in static.rglob("*") if path.is_file()}
    assert web_page and web_page <= names, sorted(web_page - names)
    # The API reference works offline: Swagger UI and ReDoc come with the package.
    assert {
        "micromailer/api/static/docs/swagger-ui.html",
        "micromailer/api/static/docs/swagger-ui-init.js",
        "micromailer/api/static/vendor/SOURCE.txt",
        "micromailer/api/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "micromailer/api/static/vendor/swagger-ui/swagger-ui.css",
        "micromailer/api/static/vendor/redoc/redoc.standalone.js",
    } <= names


def _expanded(value: str) -> str:
    """A compose value with ``${NAME:-default}`` as its default, a manifest's ``$(POD_IP)`` as
    an address."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return value.replace("$(POD_IP)", "10.244.0.7")


def test_every_api_listening_on_every_interface_names_the_hosts_it_answers() -> None:
    """0.0.0.0 names no host: without the setting only localhost would be answered."""
    api = compose()["services"]["api"]
    listed = [api["environment"]["MICROMAILER_ALLOWED_HOSTS"]]
    for document in manifests():
        if document["kind"] == "Deployment" and document["metadata"]["name"].endswith("api"):
            env = {variable["name"]: variable.get("value")
                   for variable in document["spec"]["template"]["spec"]["containers"][0]["env"]}
            listed.append(env["MICROMAILER_ALLOWED_HOSTS"])
    image = re.search(r"MICROMAILER_ALLOWED_HOSTS=(\S+)", DOCKERFILE.read_text())
    assert image is not None
    listed.append(image.group(1))
    for value in listed:
        Settings(_env_file=None, allowed_hosts=_expanded(value))  # type: ignore[call-arg]
    assert "10.244.0.7" in _expanded(listed[1])  # Prometheus scrapes the pod by its address


def test_uvicorns_own_proxy_variable_is_gone_for_micromailers_setting() -> None:
    """``micromailer serve`` passes MICROMAILER_TRUSTED_PROXIES to uvicorn, which then no
    longer reads FORWARDED_ALLOW_IPS."""
    assert "FORWARDED_ALLOW_IPS" not in variables_named()
    assert "MICROMAILER_TRUSTED_PROXIES" in compose()["services"]["api"]["environment"]


def test_the_sandbox_answers_the_name_the_workers_reach_it_by() -> None:
    services = compose()["services"]
    url = services["worker"]["environment"]["MICROMAILER_SANDBOX_URL"]
    command = services["sandbox"]["command"]
    names = command[command.index("--allowed-hosts") + 1].split(",")
    assert re.match(r"http://([^:/]+)", url).group(1) in names  # type: ignore[union-attr]


def test_nginx_passes_the_host_with_its_port_for_the_origin_check() -> None:
    assert "proxy_set_header Host $http_host;" in NGINX.read_text()


def test_the_distributed_files_ask_for_a_key_from_the_first_start() -> None:
    """Never an open relay, not even before the first key exists."""
    services = compose()["services"]
    configmaps = [document for document in manifests() if document["kind"] == "ConfigMap"]
    values = [
        services["api"]["environment"]["MICROMAILER_REQUIRE_AUTH"],
        *(document["data"]["MICROMAILER_REQUIRE_AUTH"] for document in configmaps),
    ]
    image = re.search(r"MICROMAILER_REQUIRE_AUTH=(\S+)", DOCKERFILE.read_text())
    assert image is not None
    values.append(image.group(1))
    assert len(values) == 3
    for value in values:
        assert Settings(_env_file=None, require_auth=value).require_auth  # type: ignore[call-arg]
