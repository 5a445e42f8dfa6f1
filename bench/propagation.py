#!/usr/bin/env python3
"""How fast a label move reaches the other replicas.

Starts a private redis-server on a free port, a database of its own in the local
PostgreSQL, and three `promptops serve` replicas on both. Then, MOVES times, moves prod
between two versions through replica i % 3 and polls the other two replicas (one
keep-alive connection each, back to back) until each serves the new version. Prints
the p50/p95/p99/max over all 2 x MOVES observations, timed from the moment the
promote request returned (the move is committed) and from the moment it was sent.

Target (issue 13): p99 within 100 ms over 100 moves.

Usage: bench/propagation.py [--moves N]   (PROMPTOPS_BIN: the binary to measure;
default target/release/promptops, built by bench/registry.sh or cargo build --release)
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

PG = os.environ.get("PROMPTOPS_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
ADMIN_PASSWORD = "bench-admin-password"
RESOLVE = "/v1/projects/demo/environments/prod/prompts/support.answer"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def psql(sql):
    subprocess.run(["psql", PG, "-qAtc", sql], check=True, capture_output=True)


class Http:
    """One keep-alive connection to a replica."""

    def __init__(self, port, credential):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"Authorization": f"Bearer {credential}"}

    def call(self, method, path, body=None):
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"null")


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moves", type=int, default=100)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binary = os.environ.get("PROMPTOPS_BIN", os.path.join(root, "target/release/promptops"))
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} not found: run cargo build --release -p promptops (or set PROMPTOPS_BIN)")
    if not shutil.which("redis-server"):
        sys.exit("redis-server is required")

    work = tempfile.mkdtemp(prefix="propagation-")
    db = f"po_propagation_{os.getpid()}"
    procs = []
    try:
        rport = free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL))
        psql(f"CREATE DATABASE {db}")
        db_url = PG.rsplit("/", 1)[0] + "/" + db
        subprocess.run([binary, "init", "demo"], cwd=work, check=True, capture_output=True)
        repo = os.path.join(work, "demo")
        env = dict(os.environ, PROMPTOPS_ADMIN_PASSWORD=ADMIN_PASSWORD, PROMPTOPS_LOG="warn")
        ports = []
        for i in range(3):
            port = free_port()
            log = open(os.path.join(work, f"replica{i}.log"), "w")
            procs.append(subprocess.Popen(
                [binary, "serve", "--addr", f"127.0.0.1:{port}", "--database-url", db_url,
                 "--redis-url", f"redis://127.0.0.1:{rport}"],
                cwd=repo, env=env, stdout=log, stderr=log))
            deadline = time.time() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        sys.exit(f"replica {i} did not start: see {work}/replica{i}.log")
                    time.sleep(0.02)
            ports.append(port)

        cli_env = dict(os.environ, PROMPTOPS_REGISTRY=f"http://127.0.0.1:{ports[0]}",
                       PROMPTOPS_CONFIG_DIR=os.path.join(work, "config"), PROMPTOPS_LOG="warn")
        run = lambda *a, **kw: subprocess.run([binary, *a], cwd=repo, env=cli_env, check=True,
                                              capture_output=True, text=True, **kw)
        run("login", "--user", "admin", "--password-stdin", input=ADMIN_PASSWORD + "\n")
        run("push")
        path = os.path.join(repo, "prompts/support/answer.yaml")
        text = open(path).read()
        open(path, "w").write(text.replace("version: 1.0.0", "version: 1.1.0").replace("Answer", "Answer briefly"))
        run("push")
        run("promote", "support.answer", "--to", "prod", "--version", "1.0.0")
        key = run("key", "create", "--name", "bench", "--role", "viewer").stdout.strip()
        login = Http(ports[0], "")
        login.headers = {}
        status, body = login.call("POST", "/v1/auth/login", {"user": "admin", "password": ADMIN_PASSWORD})
        if status != 200:
            sys.exit(f"login: {status} {body}")
        token = body["access_token"]

        writers = [Http(p, token) for p in ports]
        readers = [Http(p, key) for p in ports]
        for r in readers:
            assert r.call("GET", RESOLVE)[0] == 200

        from_commit, from_send = [], []
        for n in range(args.moves):
            version = "1.1.0" if n % 2 == 0 else "1.0.0"
            i = n % 3
            others = [j for j in range(3) if j != i]
            sent = time.perf_counter()
            status, body = writers[i].call(
                "POST", "/v1/projects/demo/prompts/support.answer/promote",
                {"environment": "prod", "version": version})
            committed = time.perf_counter()
            if status != 200:
                sys.exit(f"move {n} refused: {status} {body}")
            seen = {}

            def watch(j):
                while True:
                    s, b = readers[j].call("GET", RESOLVE)
                    if s == 200 and b.get("version") == version:
                        seen[j] = time.perf_counter()
                        return
                    if time.perf_counter() - committed > 10:
                        seen[j] = None
                        return

            threads = [threading.Thread(target=watch, args=(j,)) for j in others]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            for j in others:
                if seen[j] is None:
                    sys.exit(f"move {n}: replica {j} did not serve {version} within 10 s")
                from_commit.append(max(0.0, seen[j] - committed) * 1000)
                from_send.append((seen[j] - sent) * 1000)

        print(f"propagation over {args.moves} moves, 3 replicas on one PostgreSQL and one Redis "
              f"({len(from_commit)} observations; {os.cpu_count()} cores):")
        for name, xs in (("from the move's answer", from_commit), ("from the move's request", from_send)):
            print(f"  {name:<26} p50 {percentile(xs, 50):7.2f} ms  p95 {percentile(xs, 95):7.2f} ms  "
                  f"p99 {percentile(xs, 99):7.2f} ms  max {max(xs):7.2f} ms")
        p99 = percentile(from_commit, 99)
        print(f"target: p99 <= 100 ms: {'meets' if p99 <= 100 else 'MISSES'} ({p99:.2f} ms)")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        try:
            psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
