"""Stand-in values for the ${EFACTL_...} placeholders efactl's renderers write.

A rendered ParallelCluster config or AWS API request holds placeholders for ids that exist only
after deploy (docs: crates/efactl-core/src/render/conventions.rs). Schemas check the shape of
those ids (ParallelCluster wants `subnet-` + 8 or 17 characters), so before validating, each
placeholder is replaced by a syntactically valid value of its kind. A placeholder this table
does not know fails the validation: a new kind of placeholder must be added here on purpose.
"""

import re

PLACEHOLDER = re.compile(r"\$\{(EFACTL_[A-Z0-9_]+)\}")

# (name prefix, stand-in value); the first prefix that matches wins.
STAND_INS = [
    ("EFACTL_SUBNET_", "subnet-0123456789abcdef0"),
    ("EFACTL_SG_", "sg-0123456789abcdef0"),
    ("EFACTL_ARTIFACT_BUCKET", "efactl-artifacts-example"),
    ("EFACTL_POLICY_ARN_", "arn:aws:iam::123456789012:policy/efactl-example"),
    ("EFACTL_ROLE_ARN_", "arn:aws:iam::123456789012:role/efactl-example"),
    ("EFACTL_INSTANCE_PROFILE_ARN_", "arn:aws:iam::123456789012:instance-profile/efactl-example"),
    ("EFACTL_MPI_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:efactl-example-AbCdEf"),
    ("EFACTL_LAUNCH_TEMPLATE_ID_", "lt-0123456789abcdef0"),
    ("EFACTL_PLACEMENT_GROUP_", "efactl-example-pg"),
    ("EFACTL_FSX_DNS_NAME", "fs-0123456789abcdef0.fsx.us-east-1.amazonaws.com"),
    ("EFACTL_FSX_MOUNT_NAME", "abcdefgh"),
    ("EFACTL_JOB_IMAGE", "123456789012.dkr.ecr.us-east-1.amazonaws.com/efactl-example:latest"),
    ("EFACTL_JOB_MEMORY_MIB", "700000"),
]


def fill(text):
    """Returns (text with every placeholder replaced, sorted names seen, unknown names)."""
    seen, unknown = set(), set()

    def sub(m):
        name = m.group(1)
        seen.add(name)
        for prefix, value in STAND_INS:
            if name.startswith(prefix):
                return value
        unknown.add(name)
        return m.group(0)

    return PLACEHOLDER.sub(sub, text), sorted(seen), sorted(unknown)


def deny_network():
    """The validators run offline: any attempt to open a network connection fails at once."""
    import os
    import socket

    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ.pop(var, None)

    def refuse(self, address):
        if self.family == socket.AF_UNIX:
            return _connect(self, address)
        raise OSError("network access is disabled in efactl's offline validators")

    _connect = socket.socket.connect
    socket.socket.connect = refuse
    socket.create_connection = lambda *a, **k: refuse(socket.socket(), None)
