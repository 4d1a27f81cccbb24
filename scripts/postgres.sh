#!/usr/bin/env bash
# Sourced by scripts/test.sh: a PostgreSQL server for the fleet's
# multi-worker tests. On a fresh Debian machine (as root) it installs
# Debian's postgresql when missing, starts the installed cluster with
# pg_ctlcluster, creates a role and a database for the tests (as the
# `postgres` user) and exports REPORTFLOW_TEST_POSTGRES. Tests that need
# PostgreSQL skip, loudly, only when that variable is absent.
if [ -n "${REPORTFLOW_TEST_POSTGRES:-}" ]; then
  echo "PostgreSQL for the tests: REPORTFLOW_TEST_POSTGRES is set already"
  return 0 2>/dev/null || exit 0
fi
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
# The newest installed major version (15 on Debian 12), not a fixed one.
pg_version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$pg_version main"; then
  pg_createcluster "$pg_version" main >/dev/null
fi
pg_ctlcluster "$pg_version" main start 2>/dev/null || pg_ctlcluster "$pg_version" main status >/dev/null
pg_port=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" {print $3}')
runuser -u postgres -- psql -q -p "$pg_port" -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE reportflow LOGIN PASSWORD ''reportflow'''
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reportflow') \gexec
SELECT 'CREATE DATABASE reportflow_test OWNER reportflow'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'reportflow_test') \gexec
SQL
export REPORTFLOW_TEST_POSTGRES="postgres://reportflow:reportflow@127.0.0.1:${pg_port}/reportflow_test"
echo "PostgreSQL $pg_version for the tests: $REPORTFLOW_TEST_POSTGRES"
