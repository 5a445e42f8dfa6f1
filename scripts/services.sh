#!/usr/bin/env bash
# Makes sure the local PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) that the
# test suite uses are up, starting them if they are installed but stopped.
# Overridable: PROMPTOPS_TEST_PG_URL, PROMPTOPS_TEST_REDIS_URL (the tests read these).
set -uo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "services: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
fi
if ! redis_up; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "services: starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    for _ in $(seq 1 30); do redis_up && break; sleep 1; done
  fi
fi

status=0
if pg_up; then echo "services: PostgreSQL up on 127.0.0.1:5432"; else echo "services: PostgreSQL NOT reachable on 127.0.0.1:5432"; status=1; fi
if redis_up; then echo "services: Redis up on 127.0.0.1:6379"; else echo "services: Redis NOT reachable on 127.0.0.1:6379"; status=1; fi
exit $status
