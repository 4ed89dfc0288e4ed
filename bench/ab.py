#!/usr/bin/env python3
"""Two builds of lts side by side: `lts bench --standalone ARGS` from each,
alternating, ROUNDS times; prints every round and the medians.

    bench/ab.py OLD_BIN_DIR NEW_BIN_DIR ROUNDS -- --jobs 100000 --clients 4 --batch 1000

Each BIN_DIR holds `lts` and `ltsd` (a release build's target/release).
"""
import json
import statistics
import subprocess
import sys


def run(bin_dir, args):
    out = subprocess.run(
        [f"{bin_dir}/lts", "bench", "--standalone", "-o", "json", *args],
        capture_output=True, text=True, timeout=900, check=True,
        env={"LTS_LTSD": f"{bin_dir}/ltsd", "PATH": "/usr/bin:/bin"},
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    old, new, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    figures = {"old": [], "new": []}
    for i in range(rounds):
        for name, bin_dir in (("old", old), ("new", new)) if i % 2 == 0 else (("new", new), ("old", old)):
            r = run(bin_dir, args)
            figures[name].append(r)
            print(f"round {i + 1} {name}: e2e {r['e2e_per_s']}/s, submit {r['submit_per_s']}/s, "
                  f"submit p50 {r['submit_latency_us']['p50']} us", flush=True)
    med = {n: {k: statistics.median(f[k] for f in fs) for k in ("e2e_per_s", "submit_per_s")}
           | {"submit_p50_us": statistics.median(f["submit_latency_us"]["p50"] for f in fs)}
           for n, fs in figures.items()}
    for n in ("old", "new"):
        print(f"median {n}: e2e {med[n]['e2e_per_s']:.0f}/s, submit {med[n]['submit_per_s']:.0f}/s, "
              f"submit p50 {med[n]['submit_p50_us']:.0f} us")
    print(f"new/old e2e: {med['new']['e2e_per_s'] / med['old']['e2e_per_s']:.2f}x")


if __name__ == "__main__":
    main()
