#!/usr/bin/env python3
"""Validates rendered AWS API requests against botocore's service models, offline.

    botocore_shapes.py SERVICE:Operation=PATH [SERVICE:Operation=PATH ...]

e.g. `sagemaker:CreateCluster=hyperpod/cluster-config.json`,
`batch:RegisterJobDefinition=batch/gpu-job-definition.json`. Each file's ${EFACTL_...}
placeholders are replaced by valid stand-ins (placeholders.py); then
`botocore.validate.validate_parameters` checks the request against the operation's input shape
(unknown keys, types, required members, minimum lengths), and this script adds what botocore's
validator leaves out: every string against its enum, and list/string maximum lengths.
Prints one JSON object per file; exits 1 when any file has an error.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from placeholders import deny_network, fill  # noqa: E402


def extra_checks(value, shape, path, errors):
    """Enums and maximum lengths, which botocore.validate does not check."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                extra_checks(v, shape.members[k], "%s.%s" % (path, k), errors)
    elif kind == "list" and isinstance(value, list):
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            errors.append("%s: %d items, at most %d allowed" % (path, len(value), maximum))
        for i, v in enumerate(value):
            extra_checks(v, shape.member, "%s[%d]" % (path, i), errors)
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            extra_checks(v, shape.value, "%s.%s" % (path, k), errors)
    elif kind == "string" and isinstance(value, str):
        enum = shape.enum
        if enum and value not in enum:
            errors.append("%s: %r is not one of %s's values" % (path, value, shape.name))
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            errors.append("%s: %d characters, at most %d allowed" % (path, len(value), maximum))


def main(args):
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    deny_network()
    import botocore.session
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters

    session = botocore.session.get_session()
    failed = False
    for arg in args:
        target, _, path = arg.partition("=")
        service, _, operation = target.partition(":")
        with open(path) as f:
            text, seen, unknown = fill(f.read())
        result = {"file": path, "operation": target, "placeholders": seen, "errors": []}
        if unknown:
            result["errors"].append("unknown placeholders: %s (add them to placeholders.py)" % ", ".join(unknown))
        try:
            params = json.loads(text)
            shape = session.get_service_model(service).operation_model(operation).input_shape
            try:
                validate_parameters(params, shape)
            except ParamValidationError as e:
                result["errors"].extend(line for line in str(e).splitlines()[1:] if line.strip())
            extra_checks(params, shape, operation, result["errors"])
        except Exception as e:
            result["errors"].append("%s: %s" % (type(e).__name__, e))
        failed |= bool(result["errors"])
        print(json.dumps(result, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
