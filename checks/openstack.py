"""API sessions from the operator's machine, as an operator's own tools would
open them: keystoneauth1 with the admin credentials of the secrets file."""
from __future__ import annotations

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from deploy.inventory import Inventory
from deploy.secrets import Secrets
from deploy.waits import WaitFailed, wait_for_status

NOVA_MICROVERSION = "2.93"   # Zed's highest; novaclient refuses "2.latest"
CINDER_MICROVERSION = "3.70"  # Zed's highest
# A busy 2-core lab answers slowly, not never (timeout 90 s). uwsgi's APIs now and
# then reset a kept-alive connection after answering (seen: a DELETE logged 204 by
# nova-api, the client got "Connection reset by peer", 4 of 86 in one run); a
# request that could not be read back is sent again, as openstacksdk's clients do.
CONNECT_RETRIES = 3
# States a wait gives up on at once: nothing leaves them by itself.
SERVER_FAILURES = ("ERROR",)
VOLUME_FAILURES = ("error", "error_deleting", "error_extending", "error_restoring", "error_managing")
MIGRATION_FAILURES = ("error", "failed", "cancelled")


def admin_session(inventory: Inventory, secrets: Secrets) -> ks_session.Session:
    auth = v3.Password(auth_url=f"http://{inventory.controller.address}:5000/v3", username="admin",
                       password=secrets.get("admin_keystone").reveal(), project_name="admin",
                       user_domain_id="default", project_domain_id="default")
    return ks_session.Session(auth=auth, timeout=90, connect_retries=CONNECT_RETRIES)


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
