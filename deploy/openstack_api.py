"""The cloud's APIs from the operator's machine, as an operator's own tools
reach them: keystoneauth1 sessions (the admin's, a tenant's, a service
user's) and Neutron's v2.0 API through such a session. One implementation for
the deploy (Glance images), the checks and the scenarios."""
from __future__ import annotations

from typing import Any

from .inventory import Inventory
from .secrets import Secrets
from .services import endpoint_of

# A busy 2-core lab answers slowly, not never (timeout 90 s). A request whose
# connection broke before an answer is sent again, as openstacksdk's clients do.
# (The resets once seen after a DELETE's 204 were the APIs closing kept
# connections without `Connection: close`: fixed in deploy/services/shared.py,
# checked by test_every_catalog_endpoint_answers_a_client_that_keeps_its_connection.)
CONNECT_RETRIES = 3
TIMEOUT = 90
NOVA_MICROVERSION = "2.93"   # Zed's highest; novaclient refuses "2.latest"
NETWORK = {"service_type": "network", "interface": "public"}


def keystone_url(inventory: Inventory) -> str:
    """Keystone as the catalog lists it: the controller's address (this machine need not resolve host names)."""
    identity = endpoint_of("identity")
    return f"http://{inventory.controller.address}:{identity.port}{identity.path}"


def user_session(inventory: Inventory, user: str, password: str, project: str | None = None, *,
                 timeout: float = TIMEOUT, connect_retries: int = CONNECT_RETRIES):
    """A keystoneauth1 session as `user` of the Default domain, scoped to `project` if given."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    scope: dict[str, Any] = {"project_name": project, "project_domain_id": "default"} if project else {}
    auth = v3.Password(auth_url=keystone_url(inventory), username=user, password=password,
                       user_domain_id="default", **scope)
    return session.Session(auth=auth, timeout=timeout, connect_retries=connect_retries)


def admin_session(inventory: Inventory, secrets: Secrets, *, timeout: float = TIMEOUT,
                  connect_retries: int = CONNECT_RETRIES):
    """The cloud's admin (project admin), with the secrets file's password."""
    return user_session(inventory, "admin", secrets.get("admin_keystone").reveal(), "admin",
                        timeout=timeout, connect_retries=connect_retries)


class NeutronError(AssertionError):
    """Neutron answered an error; the message names the method, the path, the status and the body.
    An AssertionError: in a check or scenario, a wrong answer of the cloud is a failed expectation."""


class Neutron:
    """Neutron's v2.0 API through a keystoneauth1 session (the catalog's public endpoint)."""

    def __init__(self, session):
        self.session = session

    def response(self, method: str, path: str, body: dict | None = None):
        """The raw response, whatever its status."""
        return self.session.request("/v2.0" + path, method, json=body, raise_exc=False, endpoint_filter=NETWORK)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """The answer's JSON ({} when empty); NeutronError on a status of 400 or more."""
        r = self.response(method, path, body)
        if r.status_code >= 400:
            raise NeutronError(f"Neutron {method} {path}: {r.status_code} {r.text[:300]}")
        return r.json() if r.text else {}

    def get(self, path: str) -> dict:
        return self.call("GET", path)
