#!/bin/sh
# Durability: SIGKILL the server under load, restart, verify (see kill_restart.py).
cd "$(dirname "$0")/../.."
exec /usr/bin/python3 tests/durability/kill_restart.py
