#!/usr/bin/env python3
"""Writes a synthetic NCCL_DEBUG=INFO log of a 64-rank job (8 nodes x 8 GPUs, p5.48xlarge,
aws-ofi-nccl over EFA), interleaved as one shared stdout interleaves ranks, for benchmarks.

    gen_nccl_log.py SIZE OUT      e.g. gen_nccl_log.py 1G /tmp/job.log

Each rank logs its init (versions, plugin, provider, communicator), then the log repeats what
long NCCL_DEBUG=INFO runs are made of: channel/transport setup of new communicators, per
collective COLL lines, and the training script's own output between them.
"""
import sys

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(s):
    s = s.strip().upper().rstrip("B")
    if s and s[-1] in UNITS:
        return int(float(s[:-1]) * UNITS[s[-1]])
    return int(s)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    size, out = parse_size(sys.argv[1]), sys.argv[2]
    ranks, gpus = 64, 8

    def pre(r, tid=0):
        return "ip-10-1-%d-%d:%d:%d [%d] NCCL INFO " % (r // gpus, 20 + r // gpus, 4000 + r, 4000 + r + tid, r % gpus)

    init = []
    for r in range(ranks):
        p = pre(r)
        init += [
            p + "Bootstrap : Using ens32:10.1.%d.%d<0>" % (r // gpus, 20 + r // gpus),
            p + "cudaDriverVersion 12040",
            p + "NCCL version 2.21.5+cuda12.4",
            p + "NET/Plugin: Failed to find ncclNetPlugin_v8 symbol.",
            p + "NET/Plugin: Loaded net plugin Libfabric (v7)",
            p + "NET/Plugin: Failed to find ncclCollNetPlugin_v8 symbol.",
            p + "NET/OFI Initializing aws-ofi-nccl 1.9.1-aws",
            p + "NET/OFI Using Libfabric version 1.21",
            p + "NET/OFI Using CUDA driver version 12040 with runtime 12040",
            p + "NET/OFI Configuring AWS-specific options",
            p + "NET/OFI Setting provider_filter to efa",
            p + "NET/OFI Running on p5.48xlarge platform, topology file /opt/amazon/ofi-nccl/share/aws-ofi-nccl/xml/p5.48xl-topo.xml",
            p + "NET/OFI Selected provider is efa, fabric is efa (found 32 nics)",
            p + "Using network Libfabric",
            p + "comm 0x55d0c0e0a000 rank %d nRanks %d nNodes 8 localRanks 8 localRank %d MNNVL 0" % (r, ranks, r % gpus),
        ]
    with open(out, "w", buffering=1 << 22) as f:
        f.write("\n".join(init) + "\n")
        written = sum(len(l) + 1 for l in init)
        block = 0
        while written < size:
            lines = []
            # A communicator's connection setup: intra-node P2P and inter-node EFA channels.
            for r in range(ranks):
                p = pre(r, 100)
                peer = (r + gpus) % ranks
                for ch in range(4):
                    lines.append(p + "Channel %02d/0 : %d[%d] -> %d[%d] [send] via NET/Libfabric/%d/GDRDMA" % (ch + 4 * (block % 8), r, r % gpus, peer, r % gpus, ch % 4))
                    lines.append(p + "Channel %02d/0 : %d[%d] -> %d[%d] via P2P/CUMEM/read" % (ch, r, r % gpus, (r + 1) % ranks, (r + 1) % gpus))
            # Collectives (NCCL_DEBUG_SUBSYS=COLL) and the training script's own lines.
            for step in range(16):
                op = block * 16 + step
                for r in range(ranks):
                    lines.append(pre(r, 200) + "AllReduce: opCount %x sendbuff 0x7f3a5c%06x recvbuff 0x7f3a5c%06x count 262144 datatype 7 op 0 root 0 comm 0x55d0c0e0a000 [nranks=64] stream 0x55d0c1f0b000" % (op, op & 0xFFFFFF, op & 0xFFFFFF))
                lines.append("[rank0]: step %d/100000 | loss 2.%04d | lr 3.0e-04 | grad_norm 0.%03d | tokens/s 512334 | elapsed 00:%02d:%02d" % (op, op % 10000, op % 1000, (op // 60) % 60, op % 60))
            for r in range(ranks):
                lines.append(pre(r, 100) + "Connected all rings, use ring PXN 0 GDR 1")
            text = "\n".join(lines) + "\n"
            f.write(text)
            written += len(text)
            block += 1


if __name__ == "__main__":
    main()
