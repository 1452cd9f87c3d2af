"""What the checks and scenarios share of the cloud's APIs: the admin session
and Neutron's client (deploy/openstack_api.py, the deploy's own), the
microversions, the failure states waits give up on, the service tables."""
from __future__ import annotations

from deploy.migration import MIGRATION_FAILURES, SERVER_FAILURES
from deploy.openstack_api import CONNECT_RETRIES, NOVA_MICROVERSION, Neutron, admin_session, user_session
from deploy.waits import WaitFailed, wait_for_status

__all__ = ["CONNECT_RETRIES", "Neutron", "admin_session", "user_session", "NOVA_MICROVERSION",
           "CINDER_MICROVERSION", "SERVER_FAILURES", "MIGRATION_FAILURES", "unhealthy_services", "service_table",
           "wait_volume", "kept_connection_problem"]

CINDER_MICROVERSION = "3.70"  # Zed's highest
# States a wait gives up on at once: nothing leaves them by itself (a server's and a
# migration's: deploy/migration.py, the library's live-migration waiter).
VOLUME_FAILURES = ("error", "error_deleting", "error_extending", "error_restoring", "error_managing")


def unhealthy_services(services) -> list[str]:
    """Rows of a Nova or Cinder service table that are down or disabled, named with their host."""
    return [f"{s.binary} on {s.host} ({s.state}, {s.status})" for s in services
            if s.state != "up" or s.status != "enabled"]


def service_table(services) -> str:
    """Nova's (or Cinder's) services in the report's Table 4 layout: `:-)` up, `XXX` down."""
    rows = [("Binary", "Host", "Zone", "Status", "State", "Updated")]
    for s in services:
        rows.append((s.binary, s.host, s.zone, s.status, ":-)" if s.state == "up" else "XXX", str(s.updated_at)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def wait_volume(cinder, volume_id: str, status: str, timeout: float = 180):
    """Poll a Cinder volume until it has `status`; an error state fails at once, naming it."""
    try:
        return wait_for_status(lambda: cinder.volumes.get(volume_id), status, f"volume {volume_id} {status}",
                               timeout, failures=VOLUME_FAILURES)
    except WaitFailed as e:
        raise AssertionError(f"{e}: see cinder-volume's log on the controller "
                             "(/var/log/cinder/cinder-volume.log)") from None


def kept_connection_problem(url: str, timeout: float = 30) -> str | None:
    """What goes wrong for an HTTP/1.1 client that keeps its connection to `url`'s
    server: HEAD, GET, GET on one connection, reconnecting only where an answer
    said `Connection: close` (http.client, like urllib3, does exactly that). None
    when all three are answered; else the request that failed and why."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    previous = None
    try:
        for method in ("HEAD", "GET", "GET"):
            try:
                connection.request(method, "/")
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as e:
                after = (f" after a {previous[0]} answered {previous[1]} without 'Connection: close'"
                         if previous else "")
                return f"{method} /{after}: {type(e).__name__}: {e}"
            previous = (method, response.status)
    finally:
        connection.close()
    return None
