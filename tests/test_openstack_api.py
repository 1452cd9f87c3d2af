"""The one admin session and Neutron client of deploy, checks and scenarios,
against a fake keystoneauth session (nothing is contacted)."""
from __future__ import annotations

import pytest

from deploy.openstack_api import Neutron, NeutronError, admin_session, keystone_url, user_session
from deploy.secrets import Secrets


class FakeResponse:
    def __init__(self, status: int, text: str):
        self.status_code, self.text = status, text

    def json(self):
        import json
        return json.loads(self.text)


class FakeSession:
    def __init__(self, status: int, text: str):
        self.answer, self.asked = FakeResponse(status, text), []

    def request(self, url, method, **kw):
        self.asked.append((method, url, kw["json"], kw["endpoint_filter"]))
        return self.answer


def test_neutron_asks_the_public_network_endpoint_and_returns_json():
    session = FakeSession(200, '{"agents": []}')
    assert Neutron(session).get("/agents") == {"agents": []}
    assert session.asked == [("GET", "/v2.0/agents", None, {"service_type": "network", "interface": "public"})]
    assert Neutron(FakeSession(204, "")).call("DELETE", "/ports/1") == {}


def test_a_neutron_error_names_method_path_status_and_body():
    with pytest.raises(NeutronError, match=r"Neutron POST /routers: 409 conflict here"):
        Neutron(FakeSession(409, "conflict here")).call("POST", "/routers", {"router": {}})
    assert Neutron(FakeSession(500, "boom")).response("GET", "/networks").status_code == 500


def test_sessions_authenticate_at_the_catalogs_keystone(default_inventory):
    url = f"http://{default_inventory.controller.address}:5000/v3"
    assert keystone_url(default_inventory) == url
    admin = admin_session(default_inventory, Secrets.placeholders())
    assert (admin.auth.auth_url, admin.auth.project_name, admin.timeout) == (url, "admin", 90)
    service = user_session(default_inventory, "glance", "x", timeout=30, connect_retries=0)
    assert service.auth.project_name is None and service.timeout == 30
