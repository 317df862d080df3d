"""Write a Meltano lock file for a third-party Singer plugin from its own `--about` output.

Meltano Hub is out of reach, so lock files are generated from the installed plugin:

    target-postgres --about --format=json > about.json
    python scripts/make_lock.py loaders target-postgres meltanolabs \
        meltanolabs-target-postgres~=0.8.1 about.json \
        > plugins/loaders/target-postgres--meltanolabs.lock
"""

from __future__ import annotations

import json
import sys

KINDS = {
    "boolean": "boolean",
    "integer": "integer",
    "number": "decimal",
    "array": "array",
    "object": "object",
    "string": "string",
}


def setting(name: str, spec: dict) -> dict:
    types = spec.get("type", "string")
    types = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
    out: dict = {"name": name, "kind": KINDS.get(types[0] if types else "string", "string")}
    if spec.get("secret") or spec.get("writeOnly"):
        out["sensitive"] = True
    if "default" in spec:
        out["value"] = spec["default"]
    if spec.get("enum"):
        out["kind"] = "options"
        out["options"] = [{"label": str(v), "value": v} for v in spec["enum"]]
    if spec.get("description"):
        out["description"] = spec["description"]
    return out


def main(plugin_type: str, name: str, variant: str, pip_url: str, about_path: str) -> None:
    with open(about_path) as handle:
        about = json.load(handle)
    lock = {
        "plugin_type": plugin_type,
        "name": name,
        "namespace": name.replace("-", "_"),
        "variant": variant,
        "pip_url": pip_url,
        "executable": name,
        "description": about.get("description", ""),
        "capabilities": about.get("capabilities", []),
        "settings": [setting(k, v) for k, v in sorted(about["settings"]["properties"].items())],
    }
    json.dump(lock, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:6])
