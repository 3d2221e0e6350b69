#!/usr/bin/env python3
"""Writes a valid cluster spec with N node groups (default 1000) to stdout, for benchmarks.

Groups cycle through EFA and non-EFA types, subnets and security groups, so every rule has
work to do on every group.
"""
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
types = ["p5.48xlarge", "p4d.24xlarge", "trn2.48xlarge", "c5n.18xlarge", "hpc7a.96xlarge",
         "g6e.48xlarge", "m6i.2xlarge", "p5en.48xlarge"]
subnets = 64
out = [
    "apiVersion: efactl.dev/v1alpha1",
    "name: big",
    "region: us-east-1",
    "availabilityZone: us-east-1a",
    "network:",
    "  vpc:",
    "    cidr: 10.0.0.0/8",
    "  subnets:",
]
for s in range(subnets):
    out.append(f"    - {{ name: s{s}, cidr: 10.{s}.0.0/16, internet: nat }}")
out += [
    "securityGroups:",
    "  - name: efa",
    "    selfReferencing: true",
    "  - name: ssh",
    "    ingress:",
    "      - { protocol: tcp, ports: 22, cidr: 10.0.0.0/8 }",
    "nodeGroups:",
]
for i in range(n):
    out += [
        f"  - name: g{i}",
        f"    instanceType: {types[i % len(types)]}",
        f"    count: {2 + i % 6}",
        f"    subnet: s{i % subnets}",
        "    securityGroups: [efa, ssh]",
    ]
out += ["checks:", "  efaSecurityGroupMode: any", "nccl:", "  ports: [29500]"]
print("\n".join(out))
