#!/usr/bin/env python3
"""Validates rendered ParallelCluster 3 configs with ParallelCluster's own schema, offline.

    pcluster_schema.py CLUSTER_NAME=PATH [CLUSTER_NAME=PATH ...]

Each file's ${EFACTL_...} placeholders are replaced by valid stand-ins (placeholders.py), the
YAML is parsed, and `pcluster.schemas.cluster_schema.ClusterSchema(cluster_name=...).load()`
checks it: unknown keys, wrong types, missing required fields, values out of range. (The
semantic validators behind `pcluster create-cluster --dryrun` call AWS and are not run.)
Prints one JSON object per file; exits 1 when any file has an error.
"""

import io
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from placeholders import deny_network, fill  # noqa: E402


def main(args):
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    deny_network()
    # ParallelCluster reads the region from the environment while it loads, whatever the
    # config says.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import yaml
    from marshmallow import ValidationError
    from pcluster.schemas.cluster_schema import ClusterSchema

    logs = io.StringIO()
    handler = logging.StreamHandler(logs)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.WARNING)

    failed = False
    for arg in args:
        name, _, path = arg.partition("=")
        with open(path) as f:
            text, seen, unknown = fill(f.read())
        result = {"file": path, "cluster": name, "placeholders": seen, "errors": []}
        if unknown:
            result["errors"].append("unknown placeholders: %s (add them to placeholders.py)" % ", ".join(unknown))
        try:
            data = yaml.safe_load(text)
            os.environ["AWS_DEFAULT_REGION"] = data.get("Region", "us-east-1")
            ClusterSchema(cluster_name=name).load(data)
        except ValidationError as e:
            result["errors"].append(json.dumps(e.messages, sort_keys=True))
        except Exception as e:  # a config the schema cannot even walk
            result["errors"].append("%s: %s" % (type(e).__name__, e))
        # Lookups ParallelCluster tries while loading (capacity reservations) fail offline;
        # they are reported, not counted as errors.
        result["offline_notices"] = [l for l in logs.getvalue().splitlines() if l.strip()]
        logs.truncate(0)
        logs.seek(0)
        failed |= bool(result["errors"])
        print(json.dumps(result, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
