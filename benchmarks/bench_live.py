"""How much the live page slows the search: the same seed with no page, and with the page
open and a client polling it the way the page's script does.

    python benchmarks/bench_live.py [--generations 120] [--repeat 3] [--preset default]

Runs alternate (plain, live, plain, live, ...) so that a drifting machine load hits both
alike. ``min_box`` is set to 1.5 (out of a user's range) so that no run stops early at a
portrait: every run does the same generations, each the same work as in a real run. Besides the loop's wall time the table gives the CPU seconds of the run
(its own threads, the page server's among them, and its scoring workers), which a machine
shared with other work disturbs far less than wall time, and ``page_cpu_s``: the CPU time
the page's request threads spent serving the client (each thread's own clock). On a shared
machine that last figure is the steadiest bound: the page can take no more from the search
than the time its threads run. The client is a separate process, like a browser: every second it asks for the state,
fetches the portrait and the detectors' view when a new frame appears, and every three
seconds the population's picture. Prints a table and writes benchmarks/results/bench_live.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, table, write_json  # noqa: E402

POLL_S = 1.0


def client(url: str) -> None:
    """Poll ``url`` like the page does until killed; prints the number of requests on SIGTERM."""
    import signal

    count = [0]

    def fetch(path: str) -> bytes:
        count[0] += 1
        with urllib.request.urlopen(url + path, timeout=30) as r:
            return r.read()

    def done(*_):
        print(count[0], flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, done)
    points = frames = 0
    last_pop = 0.0
    while True:
        try:
            s = json.loads(fetch(f"api/state?p={points}&f={frames}"))
        except OSError:
            time.sleep(POLL_S)
            continue
        points, new_frames = s["n_points"], s["n_frames"]
        if new_frames > frames:
            fetch(f"api/frame/{new_frames - 1}.png")
            fetch(f"api/frame/{new_frames - 1}.json")
        frames = new_frames
        pop = s["population"]
        if pop and time.monotonic() - last_pop >= 3 * POLL_S:
            last_pop = time.monotonic()
            fetch(f"api/pop/{pop['generation']}.png")
        time.sleep(POLL_S)


def one_run(preset: str, seed: int, generations: int, live: bool) -> dict:
    from polyface.preset import load_preset
    from polyface.run import evolve
    from polyface.runio.live import LivePage

    import resource

    def cpu() -> float:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + kids.ru_utime + kids.ru_stime

    cfg = load_preset(preset).replace(seed=seed, max_generations=generations, time_limit=0.0, min_box=1.5)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        page = proc = None
        hooks = []
        page_cpu = [0.0]
        if live:
            from polyface.runio import live_server

            handle = live_server.Handler.do_GET

            def timed(self, handle=handle):
                t = time.thread_time()
                try:
                    handle(self)
                finally:
                    page_cpu[0] += time.thread_time() - t

            live_server.Handler.do_GET = timed
            urls = []
            page = LivePage(echo=urls.append)
            hooks.append(page.attach(out, cfg.to_dict()))
            proc = subprocess.Popen([sys.executable, __file__, "--client", urls[0]], stdout=subprocess.PIPE, text=True)
        t0, c0 = time.perf_counter(), cpu()
        try:
            result = evolve(cfg, out=out, hooks=hooks)
        finally:
            wall, cpu_s = time.perf_counter() - t0, cpu() - c0  # workers reaped, the client not yet
            requests = None
            if proc is not None:
                proc.terminate()
                requests = int(proc.communicate(timeout=30)[0].strip() or 0)
            if page is not None:
                page.server.stop()  # no linger: nothing waits for the page here
                live_server.Handler.do_GET = handle
    return {
        "variant": "page open, polled" if live else "no page",
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu_s, 2),
        "loop_s": round(result.elapsed_s, 2),
        "generations": result.generations,
        "evaluations": result.evaluations,
        "evals/s": round(result.evaluations / result.elapsed_s, 1),
        "best": round(result.score, 6),
        "requests": requests,
        "page_cpu_s": round(page_cpu[0], 3) if live else None,
        "page_share": f"{page_cpu[0] / result.elapsed_s:.2%}" if live else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generations", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        return client(args.client)
    for live in (False, True):  # warm-up: imports, weights (the page's detector too), worker start
        one_run(args.preset, args.seed, 3, live)
    rows = []
    for i in range(args.repeat):
        for live in (False, True):
            row = one_run(args.preset, args.seed, args.generations, live)
            row["round"] = i + 1
            rows.append(row)
            print(f"round {i + 1} {row['variant']}: {row['loop_s']} s, {row['evals/s']} evals/s", file=sys.stderr)
    same = len({(r["generations"], r["evaluations"], r["best"]) for r in rows}) == 1
    summary = {"same_search": same, "target": "<= 5% slower with the page open"}
    for key in ("loop_s", "cpu_s"):
        plain = [r[key] for r in rows if r["variant"] == "no page"]
        live = [r[key] for r in rows if r["variant"] != "no page"]
        summary[key] = {
            "median_no_page": statistics.median(plain),
            "median_page": statistics.median(live),
            "slowdown_median": round(statistics.median(live) / statistics.median(plain) - 1, 4),
            "slowdown_best_of": round(min(live) / min(plain) - 1, 4),
        }
    page = [r["page_cpu_s"] / r["loop_s"] for r in rows if r["page_cpu_s"] is not None]
    summary["page_cpu_per_loop_s"] = {"median": round(statistics.median(page), 4), "max": round(max(page), 4)}
    cols = ["round", "variant", "loop_s", "cpu_s", "wall_s", "generations", "evaluations", "evals/s", "best",
            "requests", "page_cpu_s", "page_share"]
    print(table(rows, cols))
    for key, what in (("loop_s", "loop wall time"), ("cpu_s", "CPU seconds")):
        s = summary[key]
        print(f"\nslowdown with the page open, {what}: {s['slowdown_median']:+.1%} (medians), "
              f"{s['slowdown_best_of']:+.1%} (best of {args.repeat})", end="")
    print(f"\npage threads' CPU per second of search: {summary['page_cpu_per_loop_s']['median']:.2%} (median), "
          f"{summary['page_cpu_per_loop_s']['max']:.2%} (max)")
    print(f"same search in every run: {same}")
    path = write_json("bench_live", {"machine": machine(), "args": vars(args), "rows": rows, "summary": summary})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
