"""Wall time of the demo's ``claimwatch run``: in-process (no Prefect API) against the Prefect
flow in Prefect's ephemeral mode (a temporary API server per process, what ``claimwatch run``
did before it ran in-process).

    .venv/bin/python bench/bench_demo_run.py [--runs 3] [--skip-ephemeral]

Each mode gets a fresh folder with an empty Prefect home and no ``PREFECT_*`` variables (a user
with no Prefect configuration). The first run there writes the demo; the next ``--runs`` runs
(the "second run" of a warm machine: the data dir and catalogue are already there) are timed
one by one, from process start to exit, and printed with the machine's load average, since the
machine may be shared. The ratio is median(ephemeral) / median(in-process).

Commands timed:
  in-process: ``claimwatch run``
  ephemeral:  ``python -c "from flows.pipeline import run_pipeline; run_pipeline()"``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLAIMWATCH = Path(sys.executable).with_name("claimwatch")
MODES = {
    "in-process": [str(CLAIMWATCH), "run"],
    "ephemeral": [sys.executable, "-c", "from flows.pipeline import run_pipeline; run_pipeline()"],
}


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-ephemeral", action="store_true")
    args = ap.parse_args()
    medians = {}
    for mode, cmd in MODES.items():
        if mode == "ephemeral" and args.skip_ephemeral:
            continue
        with tempfile.TemporaryDirectory(prefix=f"bench-run-{mode}-") as tmp:
            cwd = Path(tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "DO_NOT_TRACK"}
            env.update(PREFECT_HOME=str(cwd / "prefect-home"), DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
                       PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")
            first = timed(cmd, cwd, env)
            print(f"{mode:10s} first run {first:6.2f} s   (load {os.getloadavg()[0]:.2f})", flush=True)
            times = []
            for i in range(args.runs):
                times.append(timed(cmd, cwd, env))
                print(f"{mode:10s} run {i + 2}     {times[-1]:6.2f} s   (load {os.getloadavg()[0]:.2f})", flush=True)
            medians[mode] = statistics.median(times)
            print(f"{mode:10s} median of runs 2-{args.runs + 1}: {medians[mode]:.2f} s", flush=True)
    if "ephemeral" in medians:
        print(f"ephemeral / in-process: x{medians['ephemeral'] / medians['in-process']:.1f}")


if __name__ == "__main__":
    main()
