#!/usr/bin/python3
"""torch.distributed all-reduce over gloo, reported like efactl doctor and nccl-tests.

Run one process per rank with RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set (Debian's
python3-torch, /usr/bin/python3). Usage: gloo_allreduce.py ITERS SIZE_BYTES...
Rank 0 prints CSV: bytes,count,time_us,algbw_GBs,busbw_GBs,correct
"""
import sys
import time

import torch
import torch.distributed as dist

dist.init_process_group("gloo")
rank, n = dist.get_rank(), dist.get_world_size()
iters = int(sys.argv[1])
if rank == 0:
    print("bytes,count,time_us,algbw_GBs,busbw_GBs,correct")
for arg in sys.argv[2:]:
    count = int(arg) // 4
    pattern = (torch.arange(count, dtype=torch.float32) % 7) + 1
    t = pattern * (rank + 1)
    dist.all_reduce(t)
    ok = bool(torch.equal(t, pattern * (n * (n + 1) // 2)))
    dist.barrier()
    start = time.perf_counter()
    for _ in range(iters):
        dist.all_reduce(t)
    elapsed = torch.tensor([(time.perf_counter() - start) / iters])
    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)
    if rank == 0:
        secs = elapsed.item()
        alg = count * 4 / secs / 1e9
        print(f"{count * 4},{count},{secs * 1e6:.1f},{alg:.3f},{alg * 2 * (n - 1) / n:.3f},{int(ok)}")
dist.destroy_process_group()
