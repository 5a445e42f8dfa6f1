#!/usr/bin/env python3
"""Load for bench/events.sh: execution events into a running `promptops serve` while the
registry is written, and what each achieved.

Senders POST NDJSON batches of unique events (bodies made before the clock starts, so
the generator's own cost is not in the figure) over keep-alive connections. A writer
publishes prompt versions throughout and times each publish; the same publishes are
timed on the idle server first. When the load stops, the script waits until every
accepted event is counted in the metrics, so the rate printed is events stored
end to end, not only accepted.

Usage: events_load.py URL TOKEN PROJECT [--seconds S] [--senders N] [--batch B]
"""

import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

PROMPT = "bench.events"


def connection(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)


def request(conn, method, path, token, body=None, content_type="application/json"):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def source(n):
    return (
        f"id: {PROMPT}\nversion: {n}.0.0\nowner: bench\ndescription: Bench prompt.\n"
        f"model: openai:gpt-4o-mini\ntemplate: \"Answer {n}: {{{{ q }}}}\"\nvariables:\n  q: string\n"
    )


def publish(conn, token, project, n):
    body = json.dumps({"source": source(n)})
    start = time.perf_counter()
    status, data = request(conn, "POST", f"/v1/projects/{project}/prompts/{PROMPT}/versions", token, body)
    elapsed = (time.perf_counter() - start) * 1000
    if status not in (200, 201):
        raise SystemExit(f"publish {n}: {status} {data[:200]!r}")
    return elapsed


def bodies(count, batch, stamp):
    out = []
    models = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku-20241022"]
    for b in range(count):
        lines = []
        for i in range(batch):
            n = b * batch + i
            lines.append(
                '{"id":"%s-%d","prompt_id":"%s","version":"1.0.0","environment":"prod","model":"%s",'
                '"input_tokens":%d,"output_tokens":%d,"latency_ms":%d,"timestamp":"%s"%s}'
                % (stamp, n, PROMPT, models[n % 3], 200 + n % 500, 20 + n % 80, 50 + (n * 7919) % 900,
                   time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                   ',"outcome":"error","error":"timeout"' if n % 50 == 0 else "")
            )
        out.append(("\n".join(lines) + "\n").encode())
    return out


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("project")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    args = ap.parse_args()

    conn = connection(args.url)
    publish(conn, args.token, args.project, 1)
    idle = [publish(conn, args.token, args.project, n) for n in range(2, 32)]

    # Enough bodies for 30,000 events/s over the run, made before the clock starts.
    per_sender = int(30_000 * args.seconds / args.batch / args.senders) + 2
    stamp = f"{int(time.time() * 1000)}"
    prepared = [bodies(per_sender, args.batch, f"{stamp}-{s}") for s in range(args.senders)]

    stop = threading.Event()
    accepted = [0] * args.senders
    refused = [0] * args.senders
    busy = []

    def send(s):
        c = connection(args.url)
        for body in prepared[s]:
            if stop.is_set():
                break
            while True:
                status, data = request(c, "POST", f"/v1/projects/{args.project}/events", args.token,
                                       body, "application/x-ndjson")
                if status == 202:
                    accepted[s] += json.loads(data)["accepted"]
                    break
                if status == 429:
                    refused[s] += 1
                    time.sleep(0.05)
                    continue
                raise SystemExit(f"ingest: {status} {data[:200]!r}")

    def write_registry():
        c = connection(args.url)
        n = 100
        while not stop.is_set():
            busy.append(publish(c, args.token, args.project, n))
            n += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=send, args=(s,)) for s in range(args.senders)]
    writer = threading.Thread(target=write_registry)
    start = time.perf_counter()
    for t in threads:
        t.start()
    writer.start()
    time.sleep(args.seconds)
    stop.set()
    for t in threads:
        t.join()
    sent_for = time.perf_counter() - start
    writer.join()
    total = sum(accepted)

    # Wait until the writer has stored them all: the metrics count every stored call.
    metrics = f"/v1/projects/{args.project}/prompts/{PROMPT}/metrics?env=prod&step=day"
    stored = 0
    while True:
        status, data = request(conn, "GET", metrics, args.token)
        if status != 200:
            raise SystemExit(f"metrics: {status} {data[:200]!r}")
        stored = sum(s["totals"]["calls"] for s in json.loads(data)["series"])
        if stored >= total or time.perf_counter() - start > sent_for + 120:
            break
        time.sleep(0.05)
    drained = time.perf_counter() - start

    print(f"events accepted: {total} in {sent_for:.1f} s = {total / sent_for:,.0f} events/s "
          f"({args.senders} senders, {args.batch} per request, {sum(refused)} requests answered 429)")
    print(f"events stored end to end: {stored} in {drained:.1f} s = {stored / drained:,.0f} events/s "
          f"(target >= 10,000 events/s sustained: {'meets' if stored / drained >= 10_000 else 'MISSES'})")
    print(f"registry publish, idle:      p50 {statistics.median(idle):.1f} ms, p99 {percentile(idle, 0.99):.1f} ms ({len(idle)} publishes)")
    print(f"registry publish, under load: p50 {statistics.median(busy):.1f} ms, p99 {percentile(busy, 0.99):.1f} ms ({len(busy)} publishes)")


if __name__ == "__main__":
    main()
