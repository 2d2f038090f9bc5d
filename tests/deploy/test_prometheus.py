"""deploy/prometheus and deploy/grafana: Debian's promtool checks the rules, runs their unit
tests and checks the example configuration; the dashboard's queries parse; and every metric
the alerts and the dashboard name is one micromailer exposes, read from a real scrape of the
API and of a worker's exporter registry, not from a list kept by hand."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from micromailer.api.app import create_app
from micromailer.config import Settings
from micromailer.delivery.metrics import DeliveryMetrics
from micromailer.domain.status import Outcome
from micromailer.queue.exporter import worker_registry
from micromailer.store.migrate import upgrade
from tests.support.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
CONFIG = PROMETHEUS / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "micromailer.json"
OPERATIONS = ROOT / "docs" / "operations.md"

RUNBOOK = "docs/operations.md#alerts-what-each-means-and-what-to-do"
#: Metric names in PromQL: micromailer's own, and Prometheus's ``up`` of a scrape job.
METRIC_NAME = re.compile(r"\b(micromailer_[a-z0-9_]+|up)\b")
#: The series names a family of each type exposes, besides its own name for the others.
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}
#: Grafana's variables in a query, and what stands for them when promtool parses it.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool") or "/usr/bin/promtool"
    if not Path(tool).exists():
        unavailable("promtool is absent (Debian's prometheus package: make deploy-tools)")
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=120)


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_targets() -> list[dict[str, Any]]:
    return [target for panel in dashboard()["panels"] for target in panel.get("targets", [])]


def metric_names(expression: str) -> set[str]:
    return set(METRIC_NAME.findall(expression))


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every series name micromailer exposes: the API's ``GET /metrics`` (breaker strategy,
    so parked providers show) and a worker's exporter registry, each family by its type."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path_factory.mktemp("var"), strategy="breaker",
    )
    upgrade(settings.store_url)
    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics")
        assert response.status_code == 200, response.text
    worker = DeliveryMetrics(worker_registry())
    worker.email_sent(1.0)
    worker.provider_answered("sendgrid", Outcome.SENT, 0.1)
    names = {"up"}  # Prometheus's own, per scrape job
    for text in (response.text, generate_latest(worker.registry).decode()):
        for family in text_string_to_metric_families(text):
            names.add(family.name)
            names.update(family.name + suffix for suffix in SERIES_SUFFIXES.get(family.type, ()))
    return names


# -- promtool ---------------------------------------------------------------------------------


def test_promtool_accepts_the_alert_rules() -> None:
    assert_ok(promtool("check", "rules", ALERTS))


def test_the_alert_rules_unit_tests_pass() -> None:
    assert_ok(promtool("test", "rules", ALERT_TESTS))


def test_promtool_accepts_the_example_configuration(tmp_path: Path) -> None:
    """Checked in a copy beside a placeholder of the admin key file it names, which promtool
    wants to exist."""
    for path in (CONFIG, ALERTS):
        shutil.copy(path, tmp_path / path.name)
    config = yaml.safe_load(CONFIG.read_text())
    for job in config["scrape_configs"]:
        key_file = job.get("authorization", {}).get("credentials_file")
        if key_file:
            (tmp_path / key_file).write_text("placeholder\n")

    assert_ok(promtool("check", "config", tmp_path / CONFIG.name))


def test_the_dashboards_queries_parse_as_promql(tmp_path: Path) -> None:
    expressions = [target["expr"] for target in dashboard_targets()]
    for variable, value in GRAFANA_VARIABLES.items():
        expressions = [expr.replace(variable, value) for expr in expressions]
    rules = [{"record": f"dashboard:query{n}:check", "expr": expr}
             for n, expr in enumerate(expressions)]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    assert_ok(promtool("check", "rules", rules_file))


# -- the names agree with the code and the docs ---------------------------------------------


def test_every_metric_the_alerts_name_is_exposed(exposed: set[str]) -> None:
    named = {name for rule in alert_rules() for name in metric_names(rule["expr"])}
    assert named - exposed == set()
    assert "micromailer_email_delivery_seconds_bucket" in exposed  # the scrape was read whole


def test_every_metric_the_dashboard_names_is_exposed(exposed: set[str]) -> None:
    named = {name for target in dashboard_targets() for name in metric_names(target["expr"])}
    assert named - exposed == set()
    assert {"micromailer_email_delivery_seconds_bucket",
            "micromailer_provider_request_seconds_bucket"} <= named


def test_the_scrape_jobs_the_alerts_name_are_the_example_configurations() -> None:
    jobs = {job["job_name"] for job in yaml.safe_load(CONFIG.read_text())["scrape_configs"]}
    named = {job for rule in alert_rules() for job in re.findall(r'job="([^"]+)"', rule["expr"])}
    assert named == jobs == {"micromailer-api", "micromailer-worker"}


def test_every_alert_has_a_severity_a_runbook_and_a_documented_meaning() -> None:
    heading = "\n## Alerts: what each means and what to do\n"  # the runbook's anchor
    operations = OPERATIONS.read_text()
    assert heading in operations
    documented = operations.split(heading, 1)[1].split("\n## ", 1)[0]
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["annotations"]["runbook"] == RUNBOOK, rule["alert"]
        assert f"`{rule['alert']}`" in documented, f"{rule['alert']} is not in the alerts section"


def test_every_alert_is_unit_tested_both_firing_and_silent() -> None:
    cases = [case for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
             for case in test["alert_rule_test"]]
    firing = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - firing == set(), "never shown to fire"
    assert alerts - silent == set(), "never shown to stay silent"


def test_the_dashboard_reads_a_chosen_prometheus_datasource() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [panel for panel in board["panels"] if panel["type"] != "row"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert source == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
