"""`make bench`: Volley's engine against wrk, hey and oha on the same loopback target.

nginx (one worker) is pinned to core 0 and every load generator to core 1, each run measured by
/usr/bin/time for CPU seconds (user + system) and peak RSS. Three runs:

1. closed loop, 32 connections, 10 s: requests per second, CPU seconds per 100k requests, peak RSS;
2. open loop at 20,000 rps for 60 s: achieved rate, CPU, peak RSS, and volley's CPU against wrk2's and oha's
   (wrk has no rate option; hey's -q is per worker and waits for answers, oha's -q limits a closed loop: each
   is shown for what it is; wrk2, the open-model peer, is in no registry: a `wrk2` on PATH, or WRK2, is used,
   and its row says so when there is none);
3. a stall: a target that answers at once but stalls every request arriving in one second of a 5 s run at
   1,000 rps; each tool's reported p50, p90, p99 and max beside the true values for an open model, and how
   many requests each sent during the stall;
4. the knee: `volley attack --find-max` against a target of fixed capacity (capacity_target: SLOTS at once,
   each for 20 ms, so SLOTS / 20 ms requests a second and no more), the rate it finds beside the known one;
5. the worker's ceiling: `volley attack --find-max` (a step with drops fails too) inside a cgroup whose CPU
   quota is a Lambda function's at 512 MB and at 1,769 MB (memory / 1,769 MB of a vCPU), with 1,024 open
   files, against targets answering in 20 ms and in 100 ms; then the cost per million requests at each
   size, from the arm64 price in crates/cli/src/cost.rs. Two criteria: `ceiling` holds p99 within 10 ms of
   the target's answer (a throttled quota delays sends by tens of milliseconds: the CPU's ceiling);
   `ceiling-late` holds `late<1%` (sends more than 1 ms late), which a shared host's scheduling noise alone
   can break at any rate.

Usage: bench.py [--quick] [--soak SECONDS] [--only closed,open,stall,knee,ceiling,ceiling-late]
(--quick: shorter runs, for trying the script; --only: those sections alone)
It prints a Markdown report and writes it to target/bench/report.md.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target", "bench")
CARGO_OUT = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
VOLLEY = os.path.join(CARGO_OUT, "release", "volley")
STALL_TARGET = os.path.join(CARGO_OUT, "release", "examples", "stall_target")
CAPACITY_TARGET = os.path.join(CARGO_OUT, "release", "examples", "capacity_target")
OHA = os.environ.get("OHA", "oha")
WRK2 = os.environ.get("WRK2") or shutil.which("wrk2")
PORT = 18080
STALL_PORT = 18081
CAPACITY_PORT = 18082
URL = f"http://127.0.0.1:{PORT}/"
STALL_URL = f"http://127.0.0.1:{STALL_PORT}/"

QUICK = "--quick" in sys.argv
CLOSED_SECONDS = 3 if QUICK else 10
OPEN_SECONDS = 5 if QUICK else 60
OPEN_RATE = 20_000
SOAK_SECONDS = int(sys.argv[sys.argv.index("--soak") + 1]) if "--soak" in sys.argv else 0
SECTIONS = ["closed", "open", "stall", "knee", "ceiling", "ceiling-late"]
ONLY = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else SECTIONS
if set(ONLY) - set(SECTIONS):
    raise SystemExit(f"--only: {', '.join(sorted(set(ONLY) - set(SECTIONS)))} is not one of {', '.join(SECTIONS)}")
# The knee's target: this many requests at once, each for 20 ms.
KNEE_SLOTS, KNEE_DELAY_MS = 50, 20
# Lambda gives a function memory / 1,769 MB of a vCPU; the worker's sizes to compare.
LAMBDA_MB_PER_VCPU = 1769
CEILING_SIZES_MB = [512, 1769]
CEILING_DELAYS_MS = [20, 100]
# Each ceiling section's objectives, for a target answering in `delay` ms.
CEILING_SLOS = {
    "ceiling": lambda delay: [f"p99<{delay + 10}ms", "success>=99.9%"],
    "ceiling-late": lambda delay: ["late<1%", "success>=99.9%"],
}
# crates/cli/src/cost.rs, PRICES.lambda_gb_second_arm64 (us-east-1 list price) and lambda_request.
ARM64_GB_SECOND, LAMBDA_REQUEST = 0.0000133334, 0.0000002

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {out}/nginx.pid;
error_log {out}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {out}/tmp;
  proxy_temp_path {out}/tmp;
  fastcgi_temp_path {out}/tmp;
  uwsgi_temp_path {out}/tmp;
  scgi_temp_path {out}/tmp;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ default_type text/plain; return 200 "hello, volley\\n"; }}
  }}
}}
"""


def timed(command, core=1):
    """Runs `command` pinned to `core`; answers (stdout, wall seconds, CPU seconds, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as measured:
        full = ["taskset", "-c", str(core), "/usr/bin/time", "-f", "%e %U %S %M", "-o", measured.name] + command
        done = subprocess.run(full, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
        wall, user, system, rss_kb = measured.read().split()[-4:]
        return done.stdout, float(wall), float(user) + float(system), int(rss_kb) / 1024


def number(pattern, text):
    match = re.search(pattern, text)
    if not match:
        raise SystemExit(f"no {pattern!r} in:\n{text[-2000:]}")
    return float(match.group(1))


def volley_attack(url, *args):
    out, wall, cpu, rss = timed([VOLLEY, "attack", url, "--allow", url.split("/")[2], "--json", *args])
    report = json.loads(out)
    total = report["total"]
    ok = sum(n for code, n in total["statuses"].items() if 200 <= int(code) < 400)
    seconds = report["duration"] + report["wait"]
    return {"report": report, "requests": total["requests"], "ok": ok, "rate": total["requests"] / report["duration"],
            "throughput": ok / seconds, "cpu": cpu, "rss": rss}


def closed_loop():
    rows = []
    v = volley_attack(URL, "--closed", "--connections", "32", "--duration", f"{CLOSED_SECONDS}s")
    rows.append(("volley", v["requests"] / CLOSED_SECONDS, v["requests"], v["cpu"], v["rss"]))
    out, _, cpu, rss = timed(["wrk", "-t1", "-c32", f"-d{CLOSED_SECONDS}s", URL])
    rows.append(("wrk", number(r"Requests/sec:\s+([\d.]+)", out), number(r"(\d+) requests in", out), cpu, rss))
    out, _, cpu, rss = timed(["hey", "-c", "32", "-z", f"{CLOSED_SECONDS}s", URL])
    rows.append(("hey", number(r"Requests/sec:\s+([\d.]+)", out), number(r"\[200\]\s+(\d+) responses", out), cpu, rss))
    out, _, cpu, rss = timed([OHA, "-c", "32", "-z", f"{CLOSED_SECONDS}s", "--no-tui", "--output-format", "json", URL])
    summary = json.loads(out)
    rows.append(("oha", summary["summary"]["requestsPerSec"], sum(summary["statusCodeDistribution"].values()), cpu, rss))
    return rows


def open_loop():
    rows = []
    v = volley_attack(URL, "--rate", str(OPEN_RATE), "--duration", f"{OPEN_SECONDS}s", "--max-in-flight", "1000")
    dropped = v["report"]["total"]["dropped"]
    late = v["report"]["total"]["late"]
    rows.append(("volley (open model)", v["requests"] / OPEN_SECONDS, v["requests"], v["cpu"], v["rss"], f"dropped {dropped}, late {late}"))
    out, _, cpu, rss = timed([OHA, "-q", str(OPEN_RATE), "-c", "200", "-z", f"{OPEN_SECONDS}s", "--no-tui", "--output-format", "json", URL])
    summary = json.loads(out)
    n = sum(summary["statusCodeDistribution"].values())
    rows.append(("oha -q 20000 -c 200 (rate-limited closed loop)", n / OPEN_SECONDS, n, cpu, rss, ""))
    out, _, cpu, rss = timed(["hey", "-c", "32", "-q", str(OPEN_RATE // 32), "-z", f"{OPEN_SECONDS}s", URL])
    n = number(r"\[200\]\s+(\d+) responses", out)
    rows.append(("hey -c 32 -q 625 (per-worker limit, closed loop)", n / OPEN_SECONDS, n, cpu, rss, ""))
    rows.append(("wrk", None, None, None, None, "no rate option (wrk2 has one)"))
    if WRK2:
        out, _, cpu, rss = timed([WRK2, "-t1", "-c200", f"-d{OPEN_SECONDS}s", f"-R{OPEN_RATE}", URL])
        n = number(r"(\d+) requests in", out)
        rows.append(("wrk2 -t1 -c200 -R20000 (open model, per-connection pacing)", n / OPEN_SECONDS, n, cpu, rss, ""))
    else:
        rows.append(("wrk2", None, None, None, None, "not on PATH (build giltene/wrk2 with make, put it there as wrk2, or set WRK2)"))
    return rows


def percentile_ms(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def stall_truth(rate=1000, seconds=5, stall_from=2.0, stall_for=1.0):
    """The latencies an open-model user sees: requests intended during the stall wait for its end."""
    latencies = []
    for i in range(rate * seconds):
        t = i / rate
        latencies.append(stall_from + stall_for - t if stall_from <= t < stall_from + stall_for else 0.0)
    return [percentile_ms(latencies, q) for q in (0.5, 0.9, 0.99)] + [max(latencies) * 1000]


def with_stall_target(command_for, parse):
    """Starts the stall target (stall from 2 s to 3 s of the run), runs the tool, answers its figures."""
    report = os.path.join(OUT, "stall.json")
    target = subprocess.Popen(["taskset", "-c", "0", STALL_TARGET, f"127.0.0.1:{STALL_PORT}", "2000", "1000", "6500", report])
    time.sleep(0.3)
    try:
        out, _, _, _ = timed(command_for())
    finally:
        target.wait(timeout=15)
    with open(report) as f:
        counts = json.load(f)
    return parse(out), counts["during"]


def stall_run():
    rows = []
    secs = lambda s: float(s) * 1000  # noqa: E731

    def volley_parse(out):
        lines = {l.split()[0]: l for l in out.splitlines() if l.strip()}
        values = lines["Latencies"].split("]")[-1].split(",")
        def ms(text):
            text = text.strip()
            for unit, scale in (("µs", 0.001), ("ms", 1.0), ("s", 1000.0)):
                if text.endswith(unit):
                    return float(text[: -len(unit)]) * scale
            return float(text)
        return [ms(values[2]), ms(values[3]), ms(values[5]), ms(values[6])]

    figures, during = with_stall_target(
        lambda: [VOLLEY, "attack", STALL_URL, "--rate", "1000", "--duration", "5s", "--allow", f"127.0.0.1:{STALL_PORT}"],
        volley_parse)
    rows.append(("volley --rate 1000 (open model)", figures, during))

    def oha_parse(out):
        s = json.loads(out)
        p = s["latencyPercentiles"]
        return [secs(p["p50"]), secs(p["p90"]), secs(p["p99"]), secs(s["summary"]["slowest"])]

    figures, during = with_stall_target(
        lambda: [OHA, "-q", "1000", "-c", "100", "-z", "5s", "--latency-correction", "--no-tui", "--output-format", "json", STALL_URL],
        oha_parse)
    rows.append(("oha -q 1000 -c 100 --latency-correction", figures, during))

    def wrk_parse(out):
        def ms(text):
            for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
                if text.endswith(unit):
                    return float(text[: -len(unit)]) * scale
            return float(text)
        pct = dict(re.findall(r"\s+(\d+)%\s+([\d.]+\w+)", out))
        maximum = re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1)
        return [ms(pct["50"]), ms(pct["90"]), ms(pct["99"]), ms(maximum)]

    figures, during = with_stall_target(lambda: ["wrk", "-t1", "-c32", "-d5s", "--latency", STALL_URL], wrk_parse)
    rows.append(("wrk -c 32 (closed loop)", figures, during))

    def hey_parse(out):
        pct = dict(re.findall(r"\s+(\d+)%+ in ([\d.]+) secs", out))
        return [secs(pct["50"]), secs(pct["90"]), secs(pct["99"]), secs(number(r"Slowest:\s+([\d.]+) secs", out))]

    figures, during = with_stall_target(lambda: ["hey", "-c", "32", "-q", "32", "-z", "5s", STALL_URL], hey_parse)
    rows.append(("hey -c 32 -q 32 (about 1,000 rps, closed loop)", figures, during))
    return rows


def soak(seconds):
    """Peak RSS of a long open-model run (flat memory: per-second buckets only)."""
    v = volley_attack(URL, "--rate", str(OPEN_RATE), "--duration", f"{seconds}s", "--max-in-flight", "1000")
    return v


def find_max(url, *args, wrap=()):
    """`volley attack --find-max` (pinned to core 1, under `wrap`): answers its JSON."""
    command = [*wrap, VOLLEY, "attack", url, "--allow", url.split("/")[2], "--json", "--find-max", *args]
    full = ["taskset", "-c", "1", *command]
    done = subprocess.run(full, capture_output=True, text=True)
    if done.returncode not in (0, 3):
        raise SystemExit(f"failed ({done.returncode}): {' '.join(full)}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def capacity_target(delay_ms, slots=None):
    command = ["taskset", "-c", "0", CAPACITY_TARGET, f"127.0.0.1:{CAPACITY_PORT}", str(delay_ms)]
    target = subprocess.Popen(command + ([str(slots)] if slots else []))
    time.sleep(0.3)
    return target


def said(verdict):
    """A failed SLO and what the step measured (durations in ms)."""
    actual = verdict["actual"]
    shown = f"{actual / 1e6:.1f} ms" if verdict["unit"] in ("duration", "Duration") else f"{actual:.3g}"
    return f"{verdict['expression']} (was {shown})"


def curve_lines(found):
    lines = ["| rate asked | achieved | p50 ms | p99 ms | errors | dropped | late | verdict |", "|---|---|---|---|---|---|---|---|"]
    for step in sorted(found["steps"], key=lambda s: s["rate"]):
        verdict = "held" if step["held"] else "failed: " + "; ".join(
            said(v) for v in step["slos"] if not v["passed"]) + (
            f" dropped {step['dropped']:,}" if step["dropped"] else "")
        lines.append(f"| {step['rate']:,.0f} | {step['achieved']:,.0f} | {step['p50Ns'] / 1e6:.1f} | {step['p99Ns'] / 1e6:.1f} "
                     f"| {step['errors']:,} | {step['dropped']:,} | {step['late'] / max(step['requests'], 1) * 100:.2f} % | {verdict} |")
    return lines


def knee():
    """--find-max against a target of known capacity."""
    known = KNEE_SLOTS * 1000 / KNEE_DELAY_MS
    target = capacity_target(KNEE_DELAY_MS, KNEE_SLOTS)
    step = "2s" if QUICK else "5s"
    try:
        found = find_max(f"http://127.0.0.1:{CAPACITY_PORT}/", "--rate", "500", "--max-rate", "20000", "--step-duration", step,
                         "--duration", "3m", "--slo", "p99<100ms", "--slo", "success>=99.9%")
    finally:
        target.kill()
        target.wait()
    return known, step, found


class Cgroup:
    """A CPU quota (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us) for one command: `wrap()` puts it in."""

    def __init__(self, name, vcpus):
        period = 100_000
        quota = int(period * vcpus)
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            self.path = f"/sys/fs/cgroup/{name}"
            os.makedirs(self.path, exist_ok=True)
            with open(f"{self.path}/cpu.max", "w") as f:
                f.write(f"{quota} {period}")
        elif os.path.isdir("/sys/fs/cgroup/cpu"):
            self.path = f"/sys/fs/cgroup/cpu/{name}"
            os.makedirs(self.path, exist_ok=True)
            with open(f"{self.path}/cpu.cfs_period_us", "w") as f:
                f.write(str(period))
            with open(f"{self.path}/cpu.cfs_quota_us", "w") as f:
                f.write(str(quota))
        else:
            raise SystemExit("no cgroup CPU controller at /sys/fs/cgroup: the ceiling needs one (and root)")

    def wrap(self):
        """A shell that joins the cgroup, takes Lambda's 1,024 open files, then runs the command."""
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && ulimit -n 1024 && exec "$@"', "cgroup"]

    def remove(self):
        os.rmdir(self.path)


def ceiling(section):
    """The worker's engine at Lambda's CPU for each size and each target latency, held to the section's SLOs."""
    rows = []
    step = "3s" if QUICK else "10s"
    for delay in CEILING_DELAYS_MS:
        target = capacity_target(delay)
        try:
            for mb in CEILING_SIZES_MB:
                group = Cgroup(f"volley-bench-{mb}", mb / LAMBDA_MB_PER_VCPU)
                try:
                    found = find_max(f"http://127.0.0.1:{CAPACITY_PORT}/", "--rate", "250", "--max-rate", "40000",
                                     "--step-duration", step, "--duration", "4m",
                                     *[a for slo in CEILING_SLOS[section](delay) for a in ("--slo", slo)], wrap=group.wrap())
                finally:
                    group.remove()
                rows.append((mb, delay, found))
        finally:
            target.kill()
            target.wait()
    return rows


def per_million(mb, rate):
    """A worker's Lambda cost per million requests at `rate`: GB-seconds (arm64); invocations are per call."""
    return 1e6 / rate * mb / 1024 * ARM64_GB_SECOND if rate else None


def fmt(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def main():
    os.makedirs(os.path.join(OUT, "tmp"), exist_ok=True)
    conf = os.path.join(OUT, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(out=OUT, port=PORT))
    nginx = subprocess.Popen(["taskset", "-c", "0", "nginx", "-c", conf, "-p", OUT], stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    lines = []
    try:
        sections(lines)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
    report = "\n".join(lines)
    with open(os.path.join(OUT, "report.md"), "w") as f:
        f.write(report + "\n")
    print(report)


def sections(lines):
    if "closed" in ONLY:
        lines.append(f"## Closed loop: 32 connections, {CLOSED_SECONDS} s (nginx on core 0, generator on core 1)\n")
        lines.append("| tool | requests/s | requests | CPU s | CPU s per 100k requests | peak RSS MB |")
        lines.append("|---|---|---|---|---|---|")
        closed = closed_loop()
        for name, rps, n, cpu, rss in closed:
            lines.append(f"| {name} | {fmt(rps)} | {fmt(n)} | {cpu:.2f} | {cpu / n * 1e5:.3f} | {rss:.1f} |")
        by = {row[0]: row for row in closed}
        v, w, o = by["volley"], by["wrk"], by["oha"]
        lines.append("")
        lines.append(f"Ratios: throughput {v[1] / w[1]:.2f}x wrk (goal 1.0x), {v[1] / o[1]:.2f}x oha (goal 1.5x); "
                     f"CPU per request {(v[3] / v[2]) / (w[3] / w[2]):.2f}x wrk's (goal at most 1.0x).\n")

    if "open" in ONLY:
        lines.append(f"## Open loop: {OPEN_RATE:,} rps for {OPEN_SECONDS} s\n")
        lines.append("| tool | achieved rps | requests | CPU s | peak RSS MB | note |")
        lines.append("|---|---|---|---|---|---|")
        rows = open_loop()
        for name, rps, n, cpu, rss, note in rows:
            lines.append(f"| {name} | {fmt(rps)} | {fmt(n)} | {fmt(cpu, 2)} | {fmt(rss, 1)} | {note} |")
        lines.append("")
        cpu = {name.split()[0]: c for name, _, _, c, _, _ in rows if c}
        ratios = [f"{cpu['volley'] / cpu[peer]:.2f}x {peer}'s (goal at most {goal}x)" for peer, goal in (("wrk2", "1.0"), ("oha", "0.7")) if peer in cpu]
        lines.append("volley's CPU: " + ("; ".join(ratios) or "no peer to compare") + ".\n")

    if "stall" in ONLY:
        lines.append("## Stall: 1,000 rps for 5 s, the target stalls every request arriving between 2 s and 3 s\n")
        truth = stall_truth()
        lines.append("| tool | p50 ms | p90 ms | p99 ms | max ms | requests the target received during the stall |")
        lines.append("|---|---|---|---|---|---|")
        lines.append(f"| true values (open model) | {truth[0]:.1f} | {truth[1]:.1f} | {truth[2]:.1f} | {truth[3]:.1f} | 1,000 |")
        for name, figures, during in stall_run():
            lines.append(f"| {name} | " + " | ".join(f"{x:.1f}" for x in figures) + f" | {during:,} |")
        lines.append("")

    if "knee" in ONLY:
        known, step, found = knee()
        lines.append(f"## The knee: --find-max against a target of {KNEE_SLOTS} requests at once, {KNEE_DELAY_MS} ms each\n")
        lines.append(f"The target's known capacity: {known:,.0f} requests a second. `--rate 500 --max-rate 20000 "
                     f"--step-duration {step} --slo 'p99<100ms' --slo 'success>=99.9%'`: highest rate that held "
                     f"{fmt(found['highestHeld'])}, lowest that failed {fmt(found['lowestFailed'])} ({found['ended']}, "
                     f"{len(found['steps'])} steps), {found['highestHeld'] / known * 100 if found['highestHeld'] else 0:.0f} % "
                     f"of the known knee.\n")
        lines.extend(curve_lines(found))
        lines.append("")

    for section in ("ceiling", "ceiling-late"):
        if section not in ONLY:
            continue
        rows = ceiling(section)
        said_slos = {"ceiling": "p99 within 10 ms of the target's answer", "ceiling-late": "< 1 % of sends late"}[section]
        lines.append(f"## The worker's ceiling ({section}): the highest rate held with {said_slos}, 99.9 % success, no drops\n")
        lines.append("Inside a CPU quota of memory / 1,769 MB of a vCPU, 1,024 open files, the target on the other core.\n")
        lines.append("| memory | vCPU | target answers in | highest rate held | lowest failed | why it failed | "
                     "worker cost per million requests |")
        lines.append("|---|---|---|---|---|---|---|")
        for mb, delay, found in rows:
            failed = [s for s in found["steps"] if s["rate"] == found["lowestFailed"]]
            why = "; ".join(said(v) for v in failed[0]["slos"] if not v["passed"]) if failed else ""
            if failed and failed[0]["dropped"]:
                why += f" dropped {failed[0]['dropped']:,}"
            cost = per_million(mb, found["highestHeld"])
            lines.append(f"| {mb} MB | {mb / LAMBDA_MB_PER_VCPU:.2f} | {delay} ms | {fmt(found['highestHeld'])} "
                         f"| {fmt(found['lowestFailed'])} | {why} | {'n/a' if cost is None else f'${cost:.4f}'} |")
        lines.append("")
        for mb, delay, found in rows:
            lines.append(f"{mb} MB, {delay} ms target, {found['ended']}:\n")
            lines.extend(curve_lines(found))
            lines.append("")

    if SOAK_SECONDS:
        s = soak(SOAK_SECONDS)
        lines.append(f"## Soak: {OPEN_RATE:,} rps for {SOAK_SECONDS} s\n")
        lines.append(f"volley: {s['requests']:,} requests, achieved {s['rate']:,.0f} rps, CPU {s['cpu']:.1f} s, peak RSS {s['rss']:.1f} MB\n")


if __name__ == "__main__":
    main()
