"""The Helm chart (helm/scizoo), rendered offline with Helm's own Go library.

No cluster and no helm binary: helm-python-sdk renders and lints the chart,
kubernetes-validate checks every manifest against the Kubernetes 1.30 schema
(strict: unknown fields refused). The two CRD kinds the Kubernetes schema does
not know (ServiceMonitor, ScaledObject, and KEDA's TriggerAuthentication) are
checked by hand. The Dockerfile gets a lint-level check only (no build here).
"""

from __future__ import annotations

import copy
import re
import tomllib
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from tests.helpers import ROOT

pytestmark = pytest.mark.system

CHART = ROOT / "helm" / "scizoo"
KUBE = "1.30.0"
CRD_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
}
NAME, NAMESPACE = "zoo", "science"
FULL = f"{NAME}-scizoo"

PRODUCTION: dict[str, Any] = {
    "image": {"repository": "registry.facility.org/scizoo", "tag": "1.2.3", "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "registry-pull"}],
    "kafka": {
        "bootstrap": "kafka-0.kafka:9093,kafka-1.kafka:9093",
        "topicPrefix": "bl",
        "partitions": 6,
        "beamlines": ["balder", "sim"],
        "securityProtocol": "SASL_SSL",
        "sasl": {
            "mechanism": "SCRAM-SHA-512",
            "existingSecret": "kafka-scizoo",
            "usernameKey": "user",
            "passwordKey": "pass",
        },
        "ssl": {"caSecret": "kafka-ca", "caKey": "ca.pem"},
    },
    "mongo": {
        "existingSecret": "catalogue-db",
        "uriKey": "connection",
        "database": "scicat_prod",
        "writeConcern": {"w": 1, "j": True},
    },
    "config": {
        "beamlines": {"sim.yaml": (ROOT / "config/beamlines/sim.yaml").read_text()},
        "scifly": {"sim.yaml": (ROOT / "config/scifly/sim.yaml").read_text()},
        "reduction": {"rules.yaml": (ROOT / "config/reduction/rules.yaml").read_text()},
    },
    "scanlog": {
        "replicas": 3,
        "publisher": "Facility",
        "datacite": {"existingSecret": "datacite", "passwordKey": "pw"},
        "elogUrl": "https://elog.facility.org/api",
        "elog": {"existingSecret": "elog", "tokenKey": "tok"},
        "oidc": {
            "issuer": "https://sso.facility.org/realms/x",
            "audience": "scanlog",
            "jwksUrl": "https://sso.facility.org/realms/x/certs",
            "groupsClaim": "groups",
        },
        "env": {"SCANLOG_MAX_EXPORT_ROWS": 50000},
    },
    "scidog": {"tangoHost": "tango-db:10000", "tokens": {"existingSecret": "scidog-tokens", "key": "t.json"}},
    "scicow": {
        "replicas": 3,
        "userOfficeUrl": "https://duo.facility.org",
        "userOffice": {"existingSecret": "user-office", "tokenKey": "token"},
        "keda": {"enabled": True, "maxReplicaCount": 10, "lagThreshold": 250},
    },
    "scireduce": {"replicas": 4},
    "scifly": {
        "enabled": True,
        "tangoHost": "tango-db:10000",
        "data": {"existingClaim": "beamline-data", "mountPath": "/data"},
        "persistence": {"existingClaim": "scifly-state"},
    },
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "scanlogHost": "scans.facility.org",
        "scidogHost": "scidog.facility.org",
        "tls": {"enabled": True, "secretName": "scans-tls"},
    },
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
}


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with helm_python.Chart.load(CHART) as chart:
        manifests = chart.render(values or {}, name=NAME, namespace=NAMESPACE)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


@pytest.fixture(scope="module")
def default_docs() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def prod_docs() -> list[dict[str, Any]]:
    return render(PRODUCTION)


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    doc: dict[str, Any] = found[0]
    return doc


def container(docs: list[dict[str, Any]], component: str) -> dict[str, Any]:
    spec = one(docs, "Deployment", f"{FULL}-{component}")["spec"]["template"]["spec"]
    assert len(spec["containers"]) == 1
    c: dict[str, Any] = spec["containers"][0]
    return c


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    names = [e["name"] for e in c["env"]]
    assert len(names) == len(set(names)), f"duplicate env entries: {names}"
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def secret_ref(name: str, key: str) -> dict[str, Any]:
    return {"secretKeyRef": {"name": name, "key": key}}


def test_lint_has_no_errors() -> None:
    for values in ({}, PRODUCTION):
        report = helm_python.lint(CHART, values, kube_version=f"v{KUBE}")
        errors = [m for m in report["messages"] if m["severity"] >= 3]
        assert report["errors"] == [] and errors == [], report


@pytest.mark.parametrize("which", ["default_docs", "prod_docs"])
def test_every_manifest_validates(which: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(which)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "ServiceAccount"} <= kinds
    assert "Secret" not in kinds, "the chart never creates a Secret"
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue  # checked by hand below
        kubernetes_validate.validate(doc, KUBE, strict=True)
        assert doc["metadata"]["namespace"] == NAMESPACE


def test_default_has_no_optional_parts(default_docs: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in default_docs}
    assert not kinds & ({"Ingress"} | set(CRD_KINDS))
    deployments = {d["metadata"]["name"] for d in default_docs if d["kind"] == "Deployment"}
    assert deployments == {f"{FULL}-{c}" for c in ("scanlog", "scidog", "scicow", "scireduce")}


def test_production_values_reach_the_manifests(prod_docs: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in prod_docs}
    assert {"Ingress", "ServiceMonitor", "ScaledObject", "TriggerAuthentication"} <= kinds
    deploy = {d["metadata"]["name"]: d for d in prod_docs if d["kind"] == "Deployment"}
    assert deploy[f"{FULL}-scanlog"]["spec"]["replicas"] == 3
    assert deploy[f"{FULL}-scireduce"]["spec"]["replicas"] == 4
    assert "replicas" not in deploy[f"{FULL}-scicow"]["spec"], "KEDA owns scicow's replica count"
    assert deploy[f"{FULL}-scifly"]["spec"]["strategy"] == {"type": "Recreate"}
    # One image per place: the web image, and <repository>-<extra> for the others.
    images = {"scanlog": "scizoo", "scidog": "scizoo", "scicow": "scizoo-scicow", "scireduce": "scizoo-reduce",
              "scifly": "scizoo-scifly"}
    for name, d in deploy.items():
        pod = d["spec"]["template"]["spec"]
        assert pod["imagePullSecrets"] == [{"name": "registry-pull"}]
        assert pod["containers"][0]["image"] == f"registry.facility.org/{images[name.removeprefix(FULL + '-')]}:1.2.3"
        assert pod["containers"][0]["imagePullPolicy"] == "Always"

    commands = {
        "scanlog": ["scanlog", "serve", "--host", "0.0.0.0", "--port", "8000"],
        "scidog": ["scidog", "serve", "--host", "0.0.0.0", "--port", "8010"],
        "scicow": ["scicow", "run"],
        "scireduce": ["scireduce", "run"],
        "scifly": ["scifly", "run"],
    }
    for component, args in commands.items():
        assert container(prod_docs, component)["args"] == args

    mongo = secret_ref("catalogue-db", "connection")
    sasl_user, sasl_pass = secret_ref("kafka-scizoo", "user"), secret_ref("kafka-scizoo", "pass")
    scicow = env_of(container(prod_docs, "scicow"))
    assert scicow["SCICOW_MONGO_URI"] == mongo
    assert scicow["SCICOW_DATABASE"] == "scicat_prod"
    assert scicow["SCICOW_WRITE_CONCERN_W"] == "1" and scicow["SCICOW_WRITE_CONCERN_J"] == "true"
    assert scicow["SCICOW_KAFKA_BOOTSTRAP"] == "kafka-0.kafka:9093,kafka-1.kafka:9093"
    assert scicow["SCICOW_TOPIC_PREFIX"] == "bl" and scicow["SCICOW_TOPIC_PARTITIONS"] == "6"
    assert scicow["SCICOW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert scicow["SCICOW_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert scicow["SCICOW_BEAMLINES"] == '["balder","sim"]' and scicow["SCICOW_TOPIC_PARTITIONS"] == "6"
    assert scicow["SCICOW_KAFKA_SASL_USERNAME"] == sasl_user and scicow["SCICOW_KAFKA_SASL_PASSWORD"] == sasl_pass
    assert scicow["SCICOW_KAFKA_SSL_CAFILE"] == "/etc/scizoo/kafka-ca/ca.pem"
    assert scicow["SCICOW_USER_OFFICE_TOKEN"] == secret_ref("user-office", "token")
    assert scicow["SCICOW_HEALTH_PORT"] == "9100" and scicow["SCICOW_GROUP_ID"] == "scicow"

    scanlog = env_of(container(prod_docs, "scanlog"))
    assert scanlog["SCANLOG_MONGO_URI"] == mongo
    assert scanlog["SCANLOG_DATACITE_PASSWORD"] == secret_ref("datacite", "pw")
    assert scanlog["SCANLOG_ELOG_TOKEN"] == secret_ref("elog", "tok")
    assert scanlog["SCANLOG_OIDC__ISSUER"] == "https://sso.facility.org/realms/x"
    assert scanlog["SCANLOG_PUBLIC_URL"] == "https://scans.facility.org"
    assert scanlog["SCANLOG_WRITE_CONCERN_W"] == "1"
    assert scanlog["SCANLOG_MAX_EXPORT_ROWS"] == "50000"
    scidog = env_of(container(prod_docs, "scidog"))
    assert scidog["SCIDOG_MONGO_URI"] == mongo and scidog["SCIDOG_TOKENS"] == secret_ref("scidog-tokens", "t.json")
    scireduce = env_of(container(prod_docs, "scireduce"))
    assert scireduce["SCIREDUCE_MONGO_URI"] == mongo and scireduce["SCIREDUCE_KAFKA_SASL_PASSWORD"] == sasl_pass
    assert scireduce["SCIREDUCE_RULES_FILE"] == "/etc/scizoo/reduction/rules.yaml"
    scifly = env_of(container(prod_docs, "scifly"))
    assert "SCIFLY_MONGO_URI" not in scifly and scifly["SCIFLY_KAFKA_SASL_PASSWORD"] == sasl_pass
    assert scifly["SCIFLY_CONFIG_FILE"] == "/etc/scizoo/scifly/sim.yaml"
    assert scifly["SCIFLY_BEAMLINE_CONFIG_FILE"] == "/etc/scizoo/beamlines/sim.yaml"

    # the config files reach their ConfigMaps byte for byte
    for kind, files in PRODUCTION["config"].items():
        assert one(prod_docs, "ConfigMap", f"{FULL}-{kind}")["data"] == files

    ingress = one(prod_docs, "Ingress", FULL)["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"secretName": "scans-tls", "hosts": ["scans.facility.org", "scidog.facility.org"]}]
    backends = {r["host"]: r["http"]["paths"][0]["backend"]["service"]["name"] for r in ingress["rules"]}
    assert backends == {"scans.facility.org": f"{FULL}-scanlog", "scidog.facility.org": f"{FULL}-scidog"}


def test_no_secret_value_in_any_manifest(prod_docs: list[dict[str, Any]]) -> None:
    for doc in prod_docs:
        for c in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for e in c["env"]:
                if re.search(r"(URI|PASSWORD|TOKEN|TOKENS|USERNAME)$", e["name"]) and "URL" not in e["name"]:
                    assert "value" not in e and "secretKeyRef" in e["valueFrom"], e


@pytest.mark.parametrize("which", ["default_docs", "prod_docs"])
def test_probes_ports_resources_and_security(which: str, request: pytest.FixtureRequest) -> None:
    docs = request.getfixturevalue(which)
    ports = {
        "scanlog": ("http", 8000),
        "scidog": ("http", 8010),
        "scicow": ("metrics", 9100),
        "scireduce": ("metrics", 9101),
        "scifly": ("metrics", 9102),
    }
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert deployments
    for d in deployments:
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        pod = d["spec"]["template"]["spec"]
        c = pod["containers"][0]
        port_name, port = ports[component]
        assert c["ports"] == [{"name": port_name, "containerPort": port, "protocol": "TCP"}]
        assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port_name}
        assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port_name}
        assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
        mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        if component == "scireduce":
            assert "emptyDir" in volumes[mounts["/var/lib/scireduce"]]
        if component == "scifly":
            assert {"/var/spool/scifly", "/var/lib/scifly"} <= set(mounts)
        service = one(docs, "Service", d["metadata"]["name"])
        assert service["spec"]["ports"][0]["port"] == port
        assert service["spec"]["selector"] == d["spec"]["selector"]["matchLabels"]
        if component == "scicow":
            env = env_of(c)
            assert env["SCICOW_HEALTH_PORT"] == str(port)
    pdb = one(docs, "PodDisruptionBudget", f"{FULL}-scicow")
    assert pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "scicow"
    assert pdb["spec"]["minAvailable"] == 1


def test_crds_by_hand(prod_docs: list[dict[str, Any]]) -> None:
    for doc in prod_docs:
        if doc["kind"] in CRD_KINDS:
            assert doc["apiVersion"] == CRD_KINDS[doc["kind"]]
            assert doc["metadata"]["name"] and doc["metadata"]["namespace"] == NAMESPACE
    monitors = [d for d in prod_docs if d["kind"] == "ServiceMonitor"]
    assert {m["metadata"]["name"] for m in monitors} == {
        f"{FULL}-{c}" for c in ("scanlog", "scidog", "scicow", "scireduce", "scifly")
    }
    services = {d["metadata"]["name"]: d for d in prod_docs if d["kind"] == "Service"}
    for m in monitors:
        assert m["metadata"]["labels"]["release"] == "prometheus"
        service = services[m["metadata"]["name"]]
        assert m["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        (endpoint,) = m["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}

    scaled = one(prod_docs, "ScaledObject", f"{FULL}-scicow")["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{FULL}-scicow"}
    assert scaled["minReplicaCount"] == 1
    assert scaled["maxReplicaCount"] == 6, "capped at kafka.partitions (10 asked, 6 partitions)"
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    assert all(isinstance(v, str) for v in meta.values()), "KEDA trigger metadata is string-valued"
    assert meta["bootstrapServers"] == PRODUCTION["kafka"]["bootstrap"]
    assert meta["consumerGroup"] == "scicow" and meta["lagThreshold"] == "250"
    assert "topic" not in meta  # all topics of the group: the <prefix>.<beamline> subscription
    assert meta["sasl"] == "scram_sha512" and meta["tls"] == "enable"
    auth = one(prod_docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs == {"username": ("kafka-scizoo", "user"), "password": ("kafka-scizoo", "pass"), "ca": ("kafka-ca", "ca.pem")}

    below = copy.deepcopy(PRODUCTION)
    below["scicow"]["keda"]["maxReplicaCount"] = 3
    assert one(render(below), "ScaledObject", f"{FULL}-scicow")["spec"]["maxReplicaCount"] == 3


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"scicow": {"replicas": "many"}}, "/scicow/replicas"),
        ({"scicow": {"replicas": -1}}, "/scicow/replicas"),
        ({"scireduce": {"replicas": 1.5}}, "/scireduce/replicas"),
        ({"kafka": {"partitions": 0}}, "/kafka/partitions"),
        ({"scanlog": {"port": 70000}}, "/scanlog/port"),
        ({"mongo": {"writeConcern": {"w": "all"}}}, "/mongo/writeConcern/w"),
        ({"mongo": {"uri": "mongodb://user:pw@db"}}, "/mongo"),  # no inline secret
        ({"kafka": {"securityProtocol": "SASL_SSL"}}, "/kafka/sasl/existingSecret"),
        ({"kafka": {"securityProtocol": "TLS"}}, "/kafka/securityProtocol"),
        ({"securityContext": {"readOnlyRootFilesystem": False}}, "/securityContext/readOnlyRootFilesystem"),
        ({"scicow": {"keda": {"lagThreshold": "lots"}}}, "/scicow/keda/lagThreshold"),
        ({"scicow": {"replica": 2}}, "/scicow"),  # a typo is refused, not ignored
    ],
)
def test_bad_values_are_refused(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as refused:
        render(values)
    assert where in str(refused.value)


def test_template_checks_refuse_inconsistent_values() -> None:
    with pytest.raises(helm_python.HelmError, match="scanlogHost"):
        render({"ingress": {"enabled": True}})
    with pytest.raises(helm_python.HelmError, match=r"config\.scifly"):
        render({"scifly": {"enabled": True}})


def test_a_place_named_by_values_gets_that_image(default_docs: list[dict[str, Any]]) -> None:
    assert container(default_docs, "scanlog")["image"] == "ghcr.io/scizoo/scizoo:0.1.0"
    assert container(default_docs, "scicow")["image"] == "ghcr.io/scizoo/scizoo-scicow:0.1.0"
    docs = render({"image": {"repository": "r/web", "tag": "9", "scireduce": "elsewhere/reducer"}})
    assert container(docs, "scidog")["image"] == "r/web:9"
    assert container(docs, "scireduce")["image"] == "elsewhere/reducer:9"
    assert container(docs, "scicow")["image"] == "r/web-scicow:9"


def test_dockerfile_lint_level() -> None:
    """Not built here (no container runtime): the lines that matter are checked."""
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith("#")]
    ops = [i[0] for i in instructions if i and i[0].isupper()]
    assert ops[0] == "FROM" and "python:3.11-slim" in instructions[0][1]
    # One image per place: the extra is a build argument, the web places by default (no Kafka
    # client, no Sardana in the web image), every version from the constraints file.
    assert re.search(r'pip install -c constraints\.txt "\.\[\$\{SCIZOO_EXTRAS\}\]"', text)
    defaults = set(re.findall(r"^ARG SCIZOO_EXTRAS=(\S+)$", text, re.M))
    assert defaults == {"web,scidog,oidc"}, defaults
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for place in ("web", "scidog", "oidc", "scicow", "reduce", "scifly", "fixity"):  # the chart's images' extras
        assert place in extras and not any(r.startswith("sardana") for r in extras[place]), place
    assert "COPY pyproject.toml README.md LICENSE constraints.txt ./" in text
    users = [i[1].strip() for i in instructions if i[0] == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the image runs as a non-root user"
    with helm_python.Chart.load(CHART) as chart:
        uid = chart.values["podSecurityContext"]["runAsUser"]
    assert users[-1].split(":")[0] == str(uid), "the image's user is the chart's runAsUser"
    scripts = {"scanlog", "scidog", "scicow", "scireduce", "scifly", "scifix"}
    pyproject = (ROOT / "pyproject.toml").read_text()
    for script in scripts:
        assert re.search(rf'^{script}\s*=\s*"', pyproject, re.M), f"console script {script} in pyproject"
    # Every package the chart runs is in the image, each place's extra imports its loop, and the
    # metrics ports the chart's Services name are exposed (the fixity worker's 9103 too).
    packages = tomllib.loads(pyproject)["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (p.rstrip("*") for p in packages):
        assert f"COPY {package} ./{package}\n" in text, f"{package} is not copied into the image"
    for extra, module in {"scicow": "scicow._consumer", "reduce": "scireduce._loop", "scifly": "scifly._watch",
                          "fixity": "scifix._loop"}.items():
        assert f"{extra}) module={module} ;;" in text, extra
    exposed = {int(p) for i in instructions if i[0] == "EXPOSE" for p in i[1].split()}
    assert {8000, 8010, 9100, 9101, 9102, 9103} <= exposed, exposed


def test_grafana_dashboard_names_every_metric() -> None:
    import json

    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    for metric in (
        "scizoo_messages_consumed_total",
        "scizoo_messages_ingested_total",
        "scizoo_dead_letters_total",
        "scizoo_quarantined_total",
        "scizoo_consumer_lag",
        "scizoo_batch_write_seconds",
        "scizoo_http_request_seconds",
        "scizoo_live_streams",
        "scizoo_reduction_jobs_total",
        "scizoo_fixity_files_total",
        "scizoo_fixity_problems_total",
    ):
        assert metric in exprs, metric
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    places = [(p["gridPos"]["x"], p["gridPos"]["y"]) for p in dashboard["panels"]]
    assert len(places) == len(set(places)), "no two panels in one place"


@pytest.mark.parametrize("which", ["default_docs", "prod_docs"])
def test_every_setting_the_chart_sets_is_one_the_service_reads(which: str, request: pytest.FixtureRequest) -> None:
    """pydantic-settings ignores a variable no field reads: a name the chart gets wrong would be
    silently dropped (the Kafka SASL/SSL variables once were: no service had those fields)."""
    from scanlog_api import ScanlogSettings
    from scicow import ScicowSettings
    from scidog import ScidogSettings
    from scifly import SciflySettings
    from scireduce import ScireduceSettings

    docs = request.getfixturevalue(which)
    services = {"scanlog": ("SCANLOG_", ScanlogSettings), "scidog": ("SCIDOG_", ScidogSettings),
                "scicow": ("SCICOW_", ScicowSettings), "scireduce": ("SCIREDUCE_", ScireduceSettings),
                "scifly": ("SCIFLY_", SciflySettings)}
    checked = 0
    for component, (prefix, settings) in services.items():
        if not any(d["kind"] == "Deployment" and d["metadata"]["name"] == f"{FULL}-{component}" for d in docs):
            continue  # not deployed with these values
        fields = {prefix + name.upper() for name in settings.model_fields}
        ours = [name for name in env_of(container(docs, component)) if name.startswith(prefix)]
        unread = [name.split("__")[0] for name in ours if name.split("__")[0] not in fields]
        assert not unread, f"{component}: the chart sets {unread}, which {settings.__name__} does not read"
        checked += len(ours)
    assert checked > 10


DASK_VALUES: dict[str, Any] = {"scireduce": {
    "runner": "dask", "workDirClaim": "reduce-work",
    "dask": {"scheduler": "tls://dask-scheduler.dask.svc:8786", "waitSeconds": 600,
             "tls": {"existingSecret": "dask-client"}}}}


def test_the_reduction_workers_can_send_their_jobs_to_the_facilitys_dask_scheduler() -> None:
    """runner: dask reaches the worker's settings (which accept them), with the TLS files of the
    Secret mounted and the shared work folder on its claim; every manifest still validates."""
    from scireduce import ScireduceSettings

    docs = render({**PRODUCTION, **DASK_VALUES})
    c = container(docs, "scireduce")
    env = env_of(c)
    assert (env["SCIREDUCE_RUNNER"], env["SCIREDUCE_DASK_SCHEDULER"], env["SCIREDUCE_DASK_WAIT_S"]) == (
        "dask", "tls://dask-scheduler.dask.svc:8786", "600")
    assert env["SCIREDUCE_DASK_TLS_KEY_FILE"] == "/etc/scizoo/dask-tls/tls.key"
    assert env["SCIZOO_IMAGE"] == c["image"]  # recorded in each job's provenance
    settings = ScireduceSettings(**{k.removeprefix("SCIREDUCE_").lower(): v for k, v in env.items()
                                    if k.startswith(("SCIREDUCE_RUNNER", "SCIREDUCE_DASK"))})
    assert settings.runner == "dask" and settings.dask_wait_s == 600
    pod = one(docs, "Deployment", f"{FULL}-scireduce")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/var/lib/scireduce"]]["persistentVolumeClaim"] == {"claimName": "reduce-work"}
    assert volumes[mounts["/etc/scizoo/dask-tls"]]["secret"]["secretName"] == "dask-client"
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(doc, KUBE, strict=True)
    default = env_of(container(render(), "scireduce"))
    assert default["SCIREDUCE_RUNNER"] == "subprocess" and not any(k.startswith("SCIREDUCE_DASK") for k in default)


@pytest.mark.parametrize(("values", "said"), [
    ({"scireduce": {"runner": "dask", "workDirClaim": "w"}}, r"scireduce\.dask\.scheduler"),
    ({"scireduce": {"runner": "dask", "dask": {"scheduler": "tcp://d:8786"}}}, r"scireduce\.workDirClaim"),
    ({"scireduce": {"runner": "dask", "workDirClaim": "w", "dask": {"scheduler": "tls://d:8786"}}},
     r"scireduce\.dask\.tls\.existingSecret"),
])
def test_an_incomplete_dask_runner_is_refused_saying_what_is_missing(values: dict[str, Any], said: str) -> None:
    with pytest.raises(helm_python.HelmError, match=said):
        render(values)


@pytest.mark.parametrize(("values", "where"), [
    ({"scireduce": {"runner": "ray"}}, "/scireduce/runner"),
    ({"scireduce": {"dask": {"scheduler": "dask-scheduler:8786"}}}, "/scireduce/dask/scheduler"),
])
def test_bad_dask_values_are_refused(values: dict[str, Any], where: str) -> None:
    with pytest.raises(helm_python.HelmValuesError) as refused:
        render(values)
    assert where in str(refused.value)


def test_the_fixity_worker_reads_the_catalogued_files_read_only_within_its_roots() -> None:
    """scifix (issue 21) is off by default; enabled, it needs the files' claim, mounted read-only,
    and reads only within its data roots (default: the mount)."""
    from scifix import ScifixSettings

    assert not [d for d in render() if d["metadata"]["name"] == f"{FULL}-scifix"]
    with pytest.raises(helm_python.HelmError, match=r"scifix\.data\.existingClaim"):
        render({"scifix": {"enabled": True}})
    values = copy.deepcopy(PRODUCTION)
    values["scifix"] = {"enabled": True, "replicas": 2, "readRate": 50_000_000,
                        "data": {"existingClaim": "beamline-data", "mountPath": "/gpfs"}}
    docs = render(values)
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(doc, KUBE, strict=True)
    c = container(docs, "scifix")
    assert c["image"] == "registry.facility.org/scizoo-fixity:1.2.3" and c["args"] == ["scifix", "run"]
    env = env_of(c)
    assert env["SCIFIX_MONGO_URI"] == secret_ref("catalogue-db", "connection")
    assert env["SCIFIX_KAFKA_SASL_PASSWORD"] == secret_ref("kafka-scizoo", "pass")
    assert env["SCIFIX_DATA_ROOTS"] == '["/gpfs"]' and env["SCIFIX_READ_RATE"] == "50000000"
    assert env["SCIFIX_ALGORITHM"] == "blake2b" and env["SCIFIX_GROUP_ID"] == "scifix"
    fields = {"SCIFIX_" + name.upper() for name in ScifixSettings.model_fields}
    assert not [n for n in env if n.startswith("SCIFIX_") and n.split("__")[0] not in fields]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/gpfs"]["readOnly"] is True
    pod = one(docs, "Deployment", f"{FULL}-scifix")["spec"]
    assert pod["replicas"] == 2
    [data] = [v for v in pod["template"]["spec"]["volumes"] if v["name"] == mounts["/gpfs"]["name"]]
    assert data["persistentVolumeClaim"] == {"claimName": "beamline-data", "readOnly": True}
    monitor = one(docs, "ServiceMonitor", f"{FULL}-scifix")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert {p["port"] for p in one(docs, "Service", f"{FULL}-scifix")["spec"]["ports"]} == {9103}
    with pytest.raises(helm_python.HelmValuesError, match="/scifix/readRate"):
        render({"scifix": {"readRate": -1}})
