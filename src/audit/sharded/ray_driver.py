#!/usr/bin/env python3
"""Run a vcurate sharded audit (license, secrets, density, quality, exact-dedup, near-dedup,
contamination) on a Ray cluster; run them in that order (the dedups read the earlier
audits' tables), then `vcurate audit splits` on one machine.

Print this file with `vcurate shard ray-driver > ray_shards.py`. It needs `ray` from PyPI
(`pip install ray`) and a `vcurate` binary on every node, and a work folder every node can see
(a shared filesystem path; the store and the workspace must be visible at the same paths too).

    python ray_shards.py -C WORKSPACE --audit near-dedup --work /shared/work/near \
        [--address auto] [--num-cpus 2] [--vcurate /path/to/vcurate] [--retries 3]

What it does, and nothing more (all the logic is in `vcurate shard`):
1. `vcurate shard plan AUDIT --work W` writes W/plan.json and prints the stages in order.
2. Per stage, one Ray task per shard/band/partition runs `vcurate shard run --work W STAGE I`.
   Tasks whose completion marker W/STAGE/I.done exists are not submitted: a rerun after a
   crash, a preempted node or a killed worker does only what is missing. A failed task is
   retried (`--retries`, Ray's max_retries with retry_exceptions). The next stage starts when
   every task of this one has finished.
3. `vcurate shard finish --work W` writes the audit's tables under WORKSPACE/dataset/audit/.

Every task's outputs are written to a temp file and renamed, and its marker comes last, so a
task killed at any point leaves nothing that looks finished.
"""

import argparse
import json
import os
import subprocess
import sys

import ray


def vcurate_cmd(args, *rest):
    cmd = [args.vcurate]
    if args.workspace:
        cmd += ["-C", args.workspace]
    return cmd + list(rest)


@ray.remote(num_cpus=1)
def run_task(cmd):
    # check=True: a failing task raises, so Ray retries it (retry_exceptions).
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return cmd[-2], int(cmd[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-C", dest="workspace", help="the vcurate workspace folder")
    p.add_argument("--audit", required=True, choices=[
        "license", "secrets", "density", "quality", "exact-dedup", "near-dedup", "contamination",
    ])
    p.add_argument("--work", required=True, help="work folder visible to every node")
    p.add_argument("--vcurate", default="vcurate", help="the vcurate binary on every node")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local one)")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray cluster")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--partitions", type=int, default=None)
    args = p.parse_args()
    work = os.path.abspath(args.work)

    plan_cmd = vcurate_cmd(args, "shard", "plan", args.audit, "--work", work)
    if args.partitions:
        plan_cmd += ["--partitions", str(args.partitions)]
    stages = json.loads(subprocess.check_output(plan_cmd))

    ray.init(address=args.address, num_cpus=args.num_cpus, include_dashboard=False)
    task = run_task.options(max_retries=args.retries, retry_exceptions=True)
    for st in stages:
        stage, n = st["stage"], st["tasks"]
        todo = [i for i in range(n) if not os.path.exists(os.path.join(work, stage, f"{i}.done"))]
        print(f"{stage}: {len(todo)} of {n} tasks to run", file=sys.stderr)
        ray.get([task.remote([args.vcurate, "shard", "run", "--work", work, stage, str(i)]) for i in todo])
    report = subprocess.check_output(vcurate_cmd(args, "shard", "finish", "--work", work))
    sys.stdout.write(report.decode())
    ray.shutdown()


if __name__ == "__main__":
    main()
