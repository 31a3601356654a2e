#!/usr/bin/env python3
"""Start-up benchmark: time from process start to READY=1 on a migrated database, and
resident memory when idle. Runs on its own throwaway cluster (.pg/bench).

    bench/startup.py [runs]

Prints a table; asserts nothing (timings belong here, not in tests)."""
import os, socket, subprocess, sys, tempfile, time, statistics

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
env = dict(os.environ, JOBSD_PG_DIR=f"{repo}/.pg/bench", JOBSD_PG_PORT="54340")
subprocess.run([f"{repo}/scripts/pg", "start"], env=env, check=True, stdout=subprocess.DEVNULL)
out = f"{repo}/.bench/bin"
subprocess.run(["dotnet", "build", f"{repo}/src/Daemon", "-c", "Release", "-nologo", "-v", "quiet",
                "-clp:ErrorsOnly", "-o", out], check=True, stdout=subprocess.DEVNULL)
# A fresh database each run: a schema left by an older checkout must not decide the outcome.
pg_bin = subprocess.run([f"{repo}/scripts/pg", "env"], env=env, check=True, capture_output=True, text=True).stdout
pg_bin = dict(line.split("=", 1) for line in pg_bin.split() if "=" in line)["JOBSD_PG_BIN"]
for sql in ("drop database if exists jobsd_startup with (force)", "create database jobsd_startup"):
    subprocess.run([f"{pg_bin}/psql", "-qX", "-h", f"{repo}/.pg/bench/socket", "-p", "54340", "-U", "jobsd", "-d", "postgres", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)
jenv = {k: v for k, v in os.environ.items() if not k.startswith("JOBSD_")}
jenv["JOBSD_ConnectionStrings__Postgres"] = f"Host={repo}/.pg/bench/socket;Port=54340;Database=jobsd_startup;Username=jobsd"
jenv["JOBSD_Urls"] = "http://127.0.0.1:0"
subprocess.run([f"{out}/jobsd", "migrate"], env=jenv, check=True, stdout=subprocess.DEVNULL)

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

ready_ms, rss_idle = [], []
for i in range(runs):
    path = tempfile.mktemp(prefix="jobsd-bench-", suffix=".sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(path); s.settimeout(30)
    started = time.monotonic()
    p = subprocess.Popen([f"{out}/jobsd", "run"], env=dict(jenv, NOTIFY_SOCKET=path),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        msg = s.recv(4096).decode()
        if msg == "READY=1":
            ready_ms.append((time.monotonic() - started) * 1000); break
    time.sleep(5)
    rss_idle.append(rss_mb(p.pid))
    p.terminate(); p.wait(30); s.close(); os.unlink(path)

print(f"{'measure':<32}{'median':>10}{'min':>10}{'max':>10}")
print(f"{'start -> READY=1 (ms)':<32}{statistics.median(ready_ms):>10.0f}{min(ready_ms):>10.0f}{max(ready_ms):>10.0f}")
print(f"{'RSS idle after 5 s (MB)':<32}{statistics.median(rss_idle):>10.1f}{min(rss_idle):>10.1f}{max(rss_idle):>10.1f}")
print(f"runs: {runs}")
