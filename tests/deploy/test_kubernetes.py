"""deploy/kubernetes, checked offline as CI can: ``kubectl kustomize`` builds it, every built-in
object validates against Kubernetes' schemas (kubernetes-validate, strict), every custom
resource against its operator's CRD (deploy/kubernetes/crds), and the objects fit together:
resources, probes, non-root read-only pods, Secrets only for credentials, selectors that select,
NetworkPolicies that let through exactly who should pass.

``pytest tests/deploy/test_kubernetes.py -v -k validates`` lists every object validated."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from micromailer.config import Settings
from micromailer.queue.names import QUEUE_NAME
from tests.deploy.crd_schemas import load_crds, validation_errors
from tests.deploy.kubernetes_objects import (
    Pod,
    allowed,
    build,
    egress_allowed,
    kubectl,
    named,
    pod_template,
    pods,
    selects,
)
from tests.support.servers import unavailable

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
CRDS = DEPLOY / "crds"
SECRET_EXAMPLE = DEPLOY / "base" / "secret.example.yaml"
#: The Kubernetes release whose schemas the built-in objects are held to.
KUBERNETES_VERSION = "1.33.0"
BUILDS = {"full": DEPLOY, "external-postgres": DEPLOY / "overlays" / "external-postgres"}
#: Names of keys that hold a credential; they belong in a Secret.
CREDENTIAL_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIAL|BASIC.AUTH|"
                            r"(DATABASE|BROKER|REDIS|SMTP)_URL", re.IGNORECASE)
#: A URL with a password in it.
URL_WITH_PASSWORD = re.compile(r"://[^/@\s]*:[^/@\s]+@")


def _built() -> dict[str, list[dict[str, Any]]]:
    """Both builds, made once at collection; none where kubectl is missing (a test says so)."""
    if kubectl() is None:
        return {}
    return {name: build(directory) for name, directory in BUILDS.items()}


BUILT = _built()
CUSTOM_SCHEMAS = load_crds(CRDS)
CUSTOM = {key[0] for key in CUSTOM_SCHEMAS}


def objects(build_name: str = "full") -> list[dict[str, Any]]:
    if build_name not in BUILT:
        unavailable("kubectl (1.27 or newer, for its kustomize 5) is not installed")
    return BUILT[build_name]


def _each(custom: bool) -> list[Any]:
    return [pytest.param(document, id=f"{name}:{named(document)}")
            for name, documents in BUILT.items() for document in documents
            if (document["apiVersion"] in CUSTOM) == custom]


def find(kind: str, name: str, build_name: str = "full") -> dict[str, Any]:
    (found,) = [document for document in objects(build_name)
                if document["kind"] == kind and document["metadata"]["name"] == name]
    return found


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    template = pod_template(document)
    if template is None:
        return []
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads() -> list[dict[str, Any]]:
    return [document for document in objects() if pod_template(document) is not None]


def example_secrets() -> dict[str, dict[str, str]]:
    return {document["metadata"]["name"]: document["stringData"]
            for document in yaml.safe_load_all(SECRET_EXAMPLE.read_text()) if document}


# -- it builds, and every object validates --------------------------------------------------


def test_kubectl_is_installed() -> None:
    objects()


@pytest.mark.parametrize("build_name", list(BUILDS))
def test_kubectl_kustomize_builds_the_deployment(build_name: str) -> None:
    kinds = {document["kind"] for document in objects(build_name)}
    assert {"ConfigMap", "Deployment", "Service", "Job", "Ingress", "RabbitmqCluster",
            "ScaledObject", "TriggerAuthentication", "PodDisruptionBudget",
            "NetworkPolicy"} <= kinds
    assert ("Cluster" in kinds) == (build_name == "full")


@pytest.mark.parametrize("document", _each(custom=False))
def test_every_built_in_object_validates_against_the_kubernetes_schema(
    document: dict[str, Any],
) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("document", _each(custom=True))
def test_every_custom_resource_validates_against_its_crd(document: dict[str, Any]) -> None:
    schema = CUSTOM_SCHEMAS.get((document["apiVersion"], document["kind"]))
    assert schema is not None, f"no served CRD version in crds/ for {document['apiVersion']}"
    assert validation_errors(document, schema) == []


def test_the_validation_refuses_an_unknown_field() -> None:
    """Strict on both sides: a misspelt field fails rather than being dropped."""
    api = copy.deepcopy(find("Deployment", "micromailer-api"))
    api["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(api, KUBERNETES_VERSION, strict=True)
    rabbitmq = copy.deepcopy(find("RabbitmqCluster", "micromailer-rabbitmq"))
    rabbitmq["spec"]["replica"] = 3
    schema = CUSTOM_SCHEMAS[(rabbitmq["apiVersion"], rabbitmq["kind"])]
    assert any("replica" in error for error in validation_errors(rabbitmq, schema))


def test_the_crds_are_the_files_their_readme_names() -> None:
    checksums = re.findall(r"^([0-9a-f]{64})  (\S+\.yaml)$", (CRDS / "README.md").read_text(),
                           re.MULTILINE)
    listed = {name: digest for digest, name in checksums}
    present = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
               for path in CRDS.glob("*.yaml")}
    assert present == listed


# -- every pod: resources, probes, non-root and read-only ------------------------------------


def test_every_container_asks_for_cpu_and_memory_and_is_capped_in_memory() -> None:
    for document in workloads():
        for container in containers(document):
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), named(document)
            assert "memory" in resources.get("limits", {}), named(document)


def test_every_pod_runs_as_non_root_on_a_read_only_root_filesystem() -> None:
    for document in workloads():
        pod = pod_template(document)["spec"]  # type: ignore[index]
        assert pod["securityContext"]["runAsNonRoot"] is True, named(document)
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in containers(document):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, named(document)
            assert context["allowPrivilegeEscalation"] is False, named(document)
            assert context["capabilities"]["drop"] == ["ALL"], named(document)


def test_the_api_and_the_workers_are_probed_where_they_answer() -> None:
    (api,) = containers(find("Deployment", "micromailer-api"))
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (worker,) = containers(find("Deployment", "micromailer-worker"))
    assert worker["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert {"name": "metrics", "containerPort": 9808} in worker["ports"]


def test_a_stopping_worker_may_finish_the_emails_it_holds() -> None:
    worker = find("Deployment", "micromailer-worker")
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > settings_of_the_deployment().lease_seconds
    assert "replicas" not in worker["spec"], "KEDA owns the workers' count"


def test_every_micromailer_container_runs_the_image_kustomize_names() -> None:
    images = {container["image"] for document in workloads()
              for container in containers(document) if "micromailer" in container["image"]}
    assert images == {"micromailer:latest"}


def test_the_migration_job_upgrades_the_database() -> None:
    (migrate,) = containers(find("Job", "micromailer-migrate"))
    assert migrate["args"] == ["db", "upgrade"]


# -- settings and credentials ---------------------------------------------------------------


def settings_of_the_deployment() -> Settings:
    """The settings the ConfigMap and the example Secret give the API and the workers."""
    values = {**find("ConfigMap", "micromailer")["data"], **example_secrets()["micromailer"]}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]


def test_the_configmap_asks_for_a_quorum_queue_keys_and_the_workers_exporter() -> None:
    data = find("ConfigMap", "micromailer")["data"]
    settings = settings_of_the_deployment()
    assert settings.queue_type == "quorum"
    assert settings.require_auth
    (worker,) = containers(find("Deployment", "micromailer-worker"))
    metrics = next(port for port in worker["ports"] if port["name"] == "metrics")
    assert data["MICROMAILER_WORKER_METRICS_PORT"] == str(metrics["containerPort"])


def test_no_configmap_holds_a_credential() -> None:
    for document in objects():
        if document["kind"] == "ConfigMap":
            for key, value in document["data"].items():
                assert not CREDENTIAL_KEY.search(key), f"{named(document)}: {key}"
                assert not URL_WITH_PASSWORD.search(value), f"{named(document)}: {key}"


def test_the_build_carries_no_secret() -> None:
    """It builds in CI without credentials: the Secrets are made out of band."""
    assert not [named(document) for document in objects() if document["kind"] == "Secret"]


def _secret_references() -> list[tuple[str, str, str | None]]:
    """(object, Secret, key) of every reference to a Secret; key None for a whole Secret."""
    references: list[tuple[str, str, str | None]] = []
    for document in objects():
        for container in containers(document):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    references.append((named(document), source["secretRef"]["name"], None))
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    references.append((named(document), ref["name"], ref["key"]))
        if document["kind"] == "TriggerAuthentication":
            references += [(named(document), ref["name"], ref["key"])
                           for ref in document["spec"]["secretTargetRef"]]
    return references


def test_every_secret_used_is_one_the_example_describes() -> None:
    secrets = example_secrets()
    references = _secret_references()
    assert references
    for where, secret, key in references:
        assert secret in secrets, f"{where} uses an undescribed Secret {secret}"
        assert key is None or key in secrets[secret], f"{where}: {secret} has no {key}"
    for key, value in secrets["micromailer"].items():
        assert CREDENTIAL_KEY.search(key) or URL_WITH_PASSWORD.search(value), key


# -- selectors, autoscaling, the Ingress ----------------------------------------------------


def _selected(selector: dict[str, Any]) -> list[str]:
    return [pod.name for pod in pods(objects()) if selects(selector, pod.labels)]


def test_every_service_and_disruption_budget_selects_pods() -> None:
    for document in objects():
        if document["kind"] == "Service":
            assert _selected({"matchLabels": document["spec"]["selector"]}), named(document)
        if document["kind"] == "PodDisruptionBudget":
            assert _selected(document["spec"]["selector"]), named(document)
    budgets = {document["metadata"]["name"] for document in objects()
               if document["kind"] == "PodDisruptionBudget"}
    assert {"micromailer-api", "micromailer-worker"} <= budgets


@pytest.mark.parametrize("build_name", list(BUILDS))
def test_every_network_policy_selector_selects_pods(build_name: str) -> None:
    made = pods(objects(build_name))
    for document in objects(build_name):
        if document["kind"] != "NetworkPolicy":
            continue
        spec = document["spec"]
        assert any(selects(spec["podSelector"], pod.labels) for pod in made), named(document)
        for rule in [*spec.get("ingress", []), *spec.get("egress", [])]:
            for peer in [*rule.get("from", []), *rule.get("to", [])]:
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert any(selects(peer["podSelector"], pod.labels) for pod in made), (
                        f"{named(document)}: {peer}")


def test_the_workers_scale_on_the_deliver_queues_depth() -> None:
    scaled = find("ScaledObject", "micromailer-worker")
    assert find("Deployment", scaled["spec"]["scaleTargetRef"]["name"])
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == QUEUE_NAME
    authentication = find("TriggerAuthentication", trigger["authenticationRef"]["name"])
    (host,) = authentication["spec"]["secretTargetRef"]
    assert (host["parameter"], host["key"]) == ("host", "MICROMAILER_BROKER_URL")


def test_the_ingress_reaches_the_api_alone_and_lets_micromailers_413_through() -> None:
    ingress = find("Ingress", "micromailer")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]]
    assert backends == [{"name": "micromailer-api", "port": {"name": "http"}}]
    service = find("Service", "micromailer-api")
    assert "http" in {port["name"] for port in service["spec"]["ports"]}
    size = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    number, unit = re.fullmatch(r"(\d+)([km]?)", size).groups()  # type: ignore[union-attr]
    assert int(number) * {"": 1, "k": 1024, "m": 1024**2}[unit] > Settings(
        _env_file=None).max_body_bytes  # type: ignore[call-arg]


# -- who reaches whom -----------------------------------------------------------------------


def _pod(name: str) -> Pod:
    (found,) = [pod for pod in pods(objects()) if pod.name == name]
    return found


INGRESS_CONTROLLER = Pod("ingress-nginx-controller", {"app.kubernetes.io/name": "ingress-nginx"},
                         namespace="ingress-nginx")
PROMETHEUS = Pod("prometheus", {"app.kubernetes.io/name": "prometheus"}, namespace="monitoring")
KEDA = Pod("keda-operator", {"app": "keda-operator"}, namespace="keda")
ELSEWHERE = Pod("someone", {"app.kubernetes.io/name": "other"}, namespace="default")

#: (from, to, port, allowed). Pods by name; the data stores' by their operators' objects.
REACHABILITY = [
    (INGRESS_CONTROLLER, "micromailer-api", 8000, True),
    (PROMETHEUS, "micromailer-api", 8000, True),
    (ELSEWHERE, "micromailer-api", 8000, False),
    ("micromailer-worker", "micromailer-api", 8000, False),
    ("micromailer-flower", "micromailer-api", 8000, False),
    (PROMETHEUS, "micromailer-worker", 9808, True),
    (INGRESS_CONTROLLER, "micromailer-worker", 9808, False),
    (INGRESS_CONTROLLER, "micromailer-flower", 5555, False),
    ("micromailer-api", "micromailer-rabbitmq", 5672, True),
    ("micromailer-worker", "micromailer-rabbitmq", 5672, True),
    ("micromailer-flower", "micromailer-rabbitmq", 5672, True),
    (KEDA, "micromailer-rabbitmq", 5672, True),
    ("micromailer-rabbitmq", "micromailer-rabbitmq", 25672, True),
    ("micromailer-redis", "micromailer-rabbitmq", 5672, False),
    ("micromailer-migrate", "micromailer-rabbitmq", 5672, False),
    (INGRESS_CONTROLLER, "micromailer-rabbitmq", 5672, False),
    ("micromailer-api", "micromailer-postgres", 5432, True),
    ("micromailer-worker", "micromailer-postgres", 5432, True),
    ("micromailer-migrate", "micromailer-postgres", 5432, True),
    ("micromailer-postgres", "micromailer-postgres", 5432, True),
    ("micromailer-flower", "micromailer-postgres", 5432, False),
    ("micromailer-redis", "micromailer-postgres", 5432, False),
    (ELSEWHERE, "micromailer-postgres", 5432, False),
    ("micromailer-api", "micromailer-redis", 6379, True),
    ("micromailer-worker", "micromailer-redis", 6379, True),
    ("micromailer-flower", "micromailer-redis", 6379, False),
    (INGRESS_CONTROLLER, "micromailer-redis", 6379, False),
]


@pytest.mark.parametrize(("source", "target", "port", "expected"), REACHABILITY,
                         ids=lambda value: value.name if isinstance(value, Pod) else str(value))
def test_the_network_policies_let_through_exactly_who_should_pass(
    source: Pod | str, target: str, port: int, expected: bool,
) -> None:
    policies = [document for document in objects() if document["kind"] == "NetworkPolicy"]
    sender = _pod(source) if isinstance(source, str) else source
    receiver = _pod(target)
    passes = (allowed(policies, sender, receiver, port)
              and egress_allowed(policies, sender, receiver, port))
    assert passes == expected


def test_everything_else_is_denied_on_the_way_in() -> None:
    (deny,) = [document for document in objects() if document["kind"] == "NetworkPolicy"
               and document["spec"]["podSelector"] == {}]
    assert deny["spec"]["policyTypes"] == ["Ingress"]
    assert not deny["spec"].get("ingress")


def test_the_documented_first_steps_apply_what_each_needs() -> None:
    """docs/operations.md applies the data stores, then the migrations, by label."""
    operations = (ROOT / "docs" / "operations.md").read_text()

    def chosen(components: str) -> set[str]:
        assert f"-l 'app.kubernetes.io/component in ({components})'" in operations
        selector = {"matchExpressions": [{"key": "app.kubernetes.io/component",
                                          "operator": "In", "values": components.split(",")}]}
        return {named(document) for document in objects()
                if selects(selector, document["metadata"].get("labels", {}))}

    assert {"RabbitmqCluster/micromailer-rabbitmq", "Cluster/micromailer-postgres",
            "Deployment/micromailer-redis", "Service/micromailer-redis"} <= chosen(
        "broker,database,redis")
    assert {"ConfigMap/micromailer", "Job/micromailer-migrate"} <= chosen("config,migrate")
