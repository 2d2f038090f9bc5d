"""Custom resources checked against their operator's CRD (deploy/kubernetes/crds), offline.

A CRD's ``openAPIV3Schema`` is OpenAPI's dialect of JSON Schema; :func:`json_schema` turns it
into plain JSON Schema, and closes every object that lists its properties, as the API server's
strict field validation does: an unknown or misspelt field then fails instead of being pruned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

#: Marks an object whose fields are not listed: kept open.
PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"


def load_crds(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The schema of each served version in ``directory``'s CRDs, by (apiVersion, kind)."""
    schemas = {}
    for path in sorted(directory.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served"):
                    key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                    schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def json_schema(openapi: Any) -> Any:
    """``openapi`` as strict JSON Schema: ``nullable`` and int-or-string spelt out, and objects
    with listed properties closed unless they keep unknown fields."""
    if isinstance(openapi, list):
        return [json_schema(item) for item in openapi]
    if not isinstance(openapi, dict):
        return openapi
    schema = {key: json_schema(value) for key, value in openapi.items()
              if not key.startswith("x-kubernetes-") and key != "nullable"}
    if openapi.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if openapi.get("nullable") and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    closed = ("properties" in openapi and "additionalProperties" not in openapi
              and not openapi.get(PRESERVE_UNKNOWN)
              and not openapi.get("x-kubernetes-embedded-resource"))
    if closed:
        schema["additionalProperties"] = False
    return schema


def validation_errors(resource: dict[str, Any], openapi: dict[str, Any]) -> list[str]:
    """Every way ``resource`` breaks its CRD's schema, one sentence each."""
    validator = jsonschema.Draft7Validator(json_schema(openapi))
    return [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
            for error in validator.iter_errors(resource)]


__all__ = ["json_schema", "load_crds", "validation_errors"]
