"""deploy/kubernetes, checked offline: kustomize renders the example overlay,
every object validates against the Kubernetes schemas, and the manifests
agree with the code (variable names, probe paths and port, the image's user,
the grace period). No cluster runs here (docs/deployment.md says so)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from settings import Settings, variable_names
from tests.distributed.support import Instance
from tests.support import services
from tests.support.http_clients import request_once
from tests.support.paths import ROOT
from tests.support.services import sqlite_url

OVERLAY = ROOT / "deploy" / "kubernetes" / "overlays" / "example"
KUBERNETES = "1.30.0"  # the oldest release the manifests promise to fit


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:  # a skip, or under REQUIRE_SERVICES=1 a failure
        services.unavailable("kubectl", "not installed; it renders deploy/kubernetes")
    assert kubectl is not None
    done = subprocess.run(
        [kubectl, "kustomize", str(OVERLAY)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind]
    return found


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for kind in ("Deployment", "Job"):
        yield of_kind(objects, kind)["spec"]["template"]["spec"]


def environment(objects: list[dict[str, Any]]) -> dict[str, str]:
    """What a pod's environment holds: the ConfigMap and the Secret."""
    config = of_kind(objects, "ConfigMap")["data"]
    secret = of_kind(objects, "Secret")
    decoded = {
        k: base64.b64decode(v).decode().strip() for k, v in secret["data"].items()
    }
    return {**config, **decoded}


def test_the_overlay_renders_every_object_the_service_needs(
    rendered: list[dict[str, Any]],
) -> None:
    kinds = sorted(o["kind"] for o in rendered)
    assert kinds == sorted(
        [
            "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Job", "Namespace",
            "NetworkPolicy", "PodDisruptionBudget", "Secret", "Service",
        ]
    )  # fmt: skip


def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: list[dict[str, Any]],
) -> None:
    for manifest in rendered:
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def test_every_variable_is_one_the_settings_read_and_they_parse(
    rendered: list[dict[str, Any]],
) -> None:
    env = environment(rendered)
    assert set(env) <= set(variable_names()), set(env) - set(variable_names())
    settings = Settings.from_env(env)  # SettingsError on a value it refuses
    assert settings.server.migrate_on_start is False  # the Job migrates
    for spec in pod_specs(rendered):
        for container in spec["containers"]:
            assert {
                ref["configMapRef"]["name"]
                for ref in container["envFrom"]
                if "configMapRef" in ref
            } == {"employee-api"}
            assert not container.get("env"), (
                "every variable comes from the ConfigMap or the Secret"
            )


def test_pods_run_as_the_images_user_on_a_read_only_root(
    rendered: list[dict[str, Any]],
) -> None:
    match = re.search(r"^USER (\d+):(\d+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match is not None
    uid, gid = int(match.group(1)), int(match.group(2))
    for spec in pod_specs(rendered):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert (
            spec["securityContext"]["runAsUser"],
            spec["securityContext"]["runAsGroup"],
        ) == (uid, gid)
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts  # gunicorn's heartbeat files, the metrics


def test_the_grace_period_covers_the_drain_and_the_graceful_stop(
    rendered: list[dict[str, Any]],
) -> None:
    settings = Settings.from_env(environment(rendered))
    spec = of_kind(rendered, "Deployment")["spec"]["template"]["spec"]
    needed = settings.server.drain_seconds + settings.server.graceful_timeout
    assert settings.server.drain_seconds >= 3  # endpoints drop the pod first
    assert spec["terminationGracePeriodSeconds"] >= needed + 5


def test_the_probes_and_the_port_answer_on_a_running_instance(
    rendered: list[dict[str, Any]], tmp_path: Path
) -> None:
    """The pod's environment (its database and Redis aside), served for real:
    the container port is the one BIND names, and every probe path answers."""
    env = environment(rendered)
    container = of_kind(rendered, "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    (port,) = container["ports"]
    assert env["BIND"].rsplit(":", 1)[1] == str(port["containerPort"])
    local = {
        **{
            k: v
            for k, v in env.items()
            if k not in ("BIND", "REDIS_URL", "DATABASE_URL")
        },
        "DATABASE_URL": sqlite_url(tmp_path / "k8s.sqlite3"),
        "WEB_CONCURRENCY": "1",
        "MIGRATE_ON_START": "1",
    }
    instance = Instance(local, tmp_path / "gunicorn.log")
    try:
        instance.start()
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            check = container[probe]["httpGet"]
            assert check["port"] == port["name"]
            reply = request_once(instance.port, "GET", check["path"])
            assert reply.status == 200, (probe, reply.status, reply.body)
    finally:
        instance.stop()
