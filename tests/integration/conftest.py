"""Integration tests run against real servers started once per session on free loopback ports.

The fixtures are defined in ``tests.servers.fixtures`` so e2e tests can import the same ones.
"""

from tests.servers.fixtures import _restart_stopped_servers, postgres_server, sshd_server

__all__ = ["_restart_stopped_servers", "postgres_server", "sshd_server"]
