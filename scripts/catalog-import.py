#!/usr/bin/env python3
"""Writes crates/efactl-core/data/aws-instance-types.csv: every instance type AWS's
DescribeInstanceTypes returns, with the facts efactl's rules use, in the columns of
instance-catalog.csv plus `vcpus`.

Source: moto's recorded DescribeInstanceTypes output (moto/ec2/resources/instance_types.json.gz,
written by moto's scripts/ec2_get_instance_type_offerings.py / get_instance_info.py from a real
account; the wire shape is AWS's, field for field). The moto version is recorded in every row's
`sources` (key AWSDIT). Run from the repository root with the test venv's python:

    .venv/bin/python scripts/catalog-import.py

The curated rows of instance-catalog.csv and extra-instance-types.csv keep what the API does not
say (aws-ofi-nccl facts, GPUDirect RDMA, notes, sources); their network facts (EFA support and
maximum, network cards, interfaces per card) and vCPU counts are set from AWS's answer here,
each change printed and AWSDIT added to the row's sources. This file fills in every other type.
"""
import csv, gzip, io, json, os, sys

import moto

SRC = os.path.join(os.path.dirname(moto.__file__), "ec2", "resources", "instance_types.json.gz")
DATA = "crates/efactl-core/data"
COLUMNS = ["instance_type", "accelerator", "accelerator_count", "efa_supported",
           "max_efa_interfaces", "network_cards", "network_bandwidth_gbps", "efa_version",
           "gpudirect_rdma", "efa_only_interfaces_supported", "notes", "max_network_interfaces",
           "enis_per_card", "aws_ofi_nccl_platform_block", "aws_ofi_nccl_default_protocol",
           "focus", "sources", "vcpus"]


def num(x):
    return ("%g" % x) if x is not None else ""


def accelerator(t):
    gpus = (t.get("GpuInfo") or {}).get("Gpus") or []
    if gpus:
        g = gpus[0]
        return "%s-%s" % (g["Manufacturer"].lower(), g["Name"].lower()), sum(x["Count"] for x in gpus)
    neuron = (t.get("NeuronInfo") or {}).get("NeuronDevices") or []
    if neuron:
        return neuron[0]["Name"].lower(), sum(x["Count"] for x in neuron)
    inf = (t.get("InferenceAcceleratorInfo") or {}).get("Accelerators") or []
    if inf:
        return inf[0]["Name"].lower(), sum(x["Count"] for x in inf)
    fpga = (t.get("FpgaInfo") or {}).get("Fpgas") or []
    if fpga:
        return "%s-%s" % (fpga[0]["Manufacturer"].lower(), fpga[0]["Name"].lower()), sum(x["Count"] for x in fpga)
    return "none", None


def network_performance(s):
    """`3200 Gigabit`, `Up to 25 Gigabit`, `4x 100 Gigabit` -> Gbps, as efactl's audit reads it
    (cloud/audit.rs parse_network_performance), so that a refresh and this file agree."""
    s = (s or "").strip()
    if s.startswith("Up to "):
        s = s[len("Up to "):]
    num, _, unit = s.rpartition(" ")
    scale = {"gigabit": 1.0, "megabit": 0.001}.get(unit.lower())
    if scale is None:
        return None
    try:
        if "x" in num:
            n, per = num.split("x", 1)
            return float(n) * float(per) * scale
        return float(num) * scale
    except ValueError:
        return None


def bandwidth(net):
    v = network_performance(net.get("NetworkPerformance"))
    if v is not None:
        return v
    peak = sum(c.get("PeakBandwidthInGbps") or 0 for c in net.get("NetworkCards") or [])
    return peak or None


def enis_per_card(net):
    per = [c["MaximumNetworkInterfaces"] for c in sorted(net.get("NetworkCards") or [], key=lambda c: c["NetworkCardIndex"])]
    if not per:
        return ""
    if len(set(per)) == 1:
        return str(per[0])
    even, odd = set(per[0::2]), set(per[1::2])
    if len(even) == 1 and len(odd) == 1:
        return "even cards=%d, odd cards=%d" % (even.pop(), odd.pop())
    return ""


def row(t):
    net = t["NetworkInfo"]
    acc, acc_n = accelerator(t)
    efa = bool(net.get("EfaSupported"))
    cards = net.get("NetworkCards") or []
    types = [set(c.get("InterfaceTypes") or []) for c in cards]
    efa_only = any("efa-only" in x for x in types)
    notes = []
    if efa and types and "efa" not in types[0] and any("efa" in x for x in types):
        notes.append("card 0 carries ENA only")
    return {
        "instance_type": t["InstanceType"],
        "accelerator": acc,
        "accelerator_count": "" if acc_n is None else str(acc_n),
        "efa_supported": "true" if efa else "false",
        "max_efa_interfaces": str((net.get("EfaInfo") or {}).get("MaximumEfaInterfaces", 0) if efa else 0),
        "network_cards": str(net.get("MaximumNetworkCards", 1)),
        "network_bandwidth_gbps": num(bandwidth(net)),
        "efa_version": "",
        "gpudirect_rdma": "",
        "efa_only_interfaces_supported": "yes" if efa_only else "no",
        "notes": "; ".join(notes),
        "max_network_interfaces": str(net.get("MaximumNetworkInterfaces", "")),
        "enis_per_card": enis_per_card(net),
        "aws_ofi_nccl_platform_block": "",
        "aws_ofi_nccl_default_protocol": "",
        "focus": "no",
        "sources": "AWSDIT",
        "vcpus": str(t["VCpuInfo"]["DefaultVCpus"]),
    }


# The network facts EC2 enforces at launch: where a curated row is blank or differs, AWS's
# answer is right (the curated rows were written from secondary sources).
AUTHORITATIVE = ["efa_supported", "max_efa_interfaces", "network_cards",
                 "max_network_interfaces", "enis_per_card"]


def merge_curated(path, aws):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
        fields = list(rows[0].keys()) if rows else []
    if "vcpus" not in fields:
        fields.append("vcpus")
    for r in rows:
        a = aws.get(r["instance_type"])
        if a is None:
            r["vcpus"] = r.get("vcpus") or ""
            continue
        r["vcpus"] = a["vcpus"]
        changed = [k for k in AUTHORITATIVE if r[k] != a[k]]
        for k in changed:
            print("%s %s: %r -> %r (AWSDIT)" % (r["instance_type"], k, r[k], a[k]), file=sys.stderr)
            r[k] = a[k]
        if changed and "AWSDIT" not in r["sources"].split(";"):
            r["sources"] = r["sources"] + ";AWSDIT" if r["sources"] else "AWSDIT"
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    with open(path, "w", newline="") as f:
        f.write(out.getvalue())


def main():
    types = json.load(gzip.open(SRC))
    rows = [row(t) for _, t in sorted(types.items())]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    with open(os.path.join(DATA, "aws-instance-types.csv"), "w", newline="") as f:
        f.write("# AWS DescribeInstanceTypes as recorded in moto %s (moto/ec2/resources/instance_types.json.gz); written by scripts/catalog-import.py\n" % moto.__version__)
        f.write(out.getvalue())
    aws = {r["instance_type"]: r for r in rows}
    for name in ("instance-catalog.csv", "extra-instance-types.csv"):
        merge_curated(os.path.join(DATA, name), aws)
    print("%d types from moto %s" % (len(rows), moto.__version__), file=sys.stderr)


main()
