"""Checks of 09-openstack-gateway: every Neutron agent alive where it should
be, the VM network with DHCP, the router to the public network, ICMP and SSH
in the default security group, the dashboard on the gateway's public address
(a real browser logs in), and nothing else answering there."""
import base64
import hashlib
import http.client
import socket
import ssl
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from checks.tools import headless_chromium
from checks.openstack import Neutron, admin_session
from deploy.phases.p09_openstack_gateway import dashboard, networks
from deploy.phases.p09_openstack_gateway.agents import NOVNC_PORT
from deploy.pki import ca_file
from deploy.waits import WaitTimeout, wait_for

pytestmark = [pytest.mark.p09, pytest.mark.usefixtures("phase_p09")]

PUBLIC_PORTS = {22: "SSH", dashboard.HTTP_PORT: "dashboard's redirect", dashboard.HTTPS_PORT: "dashboard",
                NOVNC_PORT: "noVNC"}


def suite_tls(inventory) -> ssl.SSLContext:
    """A client context that trusts the suite's CA only (and checks names)."""
    return ssl.create_default_context(cafile=str(ca_file(inventory.secrets_path)))


def verified_key_hash(inventory, address: str, port: int) -> str:
    """The server's certificate, verified against the suite's CA for `address`:
    its public key's SHA-256 (base64), as Chromium's SPKI list takes it."""
    with socket.create_connection((address, port), timeout=30) as raw:
        with suite_tls(inventory).wrap_socket(raw, server_hostname=address) as tls:
            der = tls.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def session(inventory, secrets):
    return admin_session(inventory, secrets)


def neutron_get(session, path: str) -> dict:
    return Neutron(session).get(path)


@pytest.mark.gateway
def test_every_neutron_agent_alive_on_its_host(session, inventory):
    agents = neutron_get(session, "/agents")["agents"]
    alive = {(a["host"], a["agent_type"]) for a in agents if a["alive"]}
    expected = {(inventory.gateway.name, t) for t in ("DHCP agent", "L3 agent", "Metadata agent")}
    expected |= {(h.name, "Linux bridge agent") for h in inventory.with_role("compute")}
    missing = sorted(expected - alive)
    table = "\n".join(f"{a['agent_type']:<20} {a['host']:<12} {':-)' if a['alive'] else 'XXX'}" for a in agents)
    assert not missing, f"agents not alive: {missing}\n{table}"


@pytest.mark.gateway
def test_vm_network_has_a_subnet_with_dhcp(session, inventory):
    nets = neutron_get(session, f"/networks?name={networks.VM_NETWORK}")["networks"]
    assert len(nets) == 1, f"expected one network {networks.VM_NETWORK!r}, found {len(nets)}"
    subnets = neutron_get(session, f"/subnets?network_id={nets[0]['id']}")["subnets"]
    assert [(s["cidr"], s["enable_dhcp"]) for s in subnets] == [(str(inventory.vm.cidr), True)], \
        f"{networks.VM_NETWORK}: subnets {[(s['name'], s['cidr'], s['enable_dhcp']) for s in subnets]}"
    assert nets[0]["shared"], f"{networks.VM_NETWORK} is not shared with every project"


@pytest.mark.gateway
def test_router_joins_the_vm_network_to_the_public_network(session, inventory):
    routers = neutron_get(session, f"/routers?name={networks.ROUTER}")["routers"]
    assert len(routers) == 1, f"expected one router {networks.ROUTER!r}, found {len(routers)}"
    router = routers[0]
    gw = router.get("external_gateway_info") or {}
    public = neutron_get(session, f"/networks?name={networks.PUBLIC_NETWORK}")["networks"]
    assert public and gw.get("network_id") == public[0]["id"], f"{networks.ROUTER}: gateway {gw}"
    assert gw.get("enable_snat"), f"{networks.ROUTER}: no SNAT (VMs could not reach outside)"
    wanted = ("network:router_interface", "network:router_gateway")

    def states() -> dict[str, str]:
        ports = neutron_get(session, f"/ports?device_id={router['id']}")["ports"]
        return {p["device_owner"]: p["status"] for p in ports}

    # A port the agents rewire (a resync after an agent's start) passes through
    # BUILD for a moment; one that stays there, or goes to ERROR, is the fault.
    seen = {}

    def wired() -> bool:
        seen["states"] = states()
        errors = [o for o in wanted if seen["states"].get(o) == "ERROR"]
        assert not errors, f"{networks.ROUTER}: ports {seen['states']} (ERROR: see the L3 agent's log on " \
                           f"{inventory.gateway.name})"
        return all(seen["states"].get(o) == "ACTIVE" for o in wanted)

    try:
        wait_for(wired, 60, f"{networks.ROUTER}'s ports ACTIVE", interval=2, describe=lambda _: seen.get("states"))
    except WaitTimeout:
        pytest.fail(f"{networks.ROUTER}: ports {seen.get('states')} for 60 s (the L3 agent on "
                    f"{inventory.gateway.name} has not wired it)")


@pytest.mark.gateway
def test_default_security_group_allows_icmp_and_ssh(session):
    project = session.get_project_id()
    groups = neutron_get(session, f"/security-groups?name=default&project_id={project}")["security_groups"]
    assert groups, "admin project has no default security group"
    rules = {(r["protocol"], r["port_range_min"]) for r in groups[0]["security_group_rules"]
             if r["direction"] == "ingress" and r["ethertype"] == "IPv4"}
    missing = {("icmp", None), ("tcp", 22)} - rules
    assert not missing, f"default security group lacks ingress {sorted(map(str, missing))}; has {sorted(map(str, rules))}"


@pytest.mark.gateway
def test_dashboard_login_page_over_https_with_the_suites_certificate(host, inventory):
    """The login page over HTTPS, the certificate checked against the suite's CA
    and the public address; its cookies go over HTTPS only."""
    url = dashboard.url(inventory.host(host.backend.hostname)) + "auth/login/"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}),   # never via an environment's proxy
                                         urllib.request.HTTPSHandler(context=suite_tls(inventory)))
    with direct.open(url, timeout=60) as response:
        page = response.read().decode(errors="replace")
        cookies = response.headers.get_all("Set-Cookie") or []
    assert response.status == 200 and 'name="password"' in page, f"{url}: no login form"
    assert any(c.strip().startswith("csrftoken=") for c in cookies), f"{url}: no CSRF cookie set ({cookies})"
    insecure = [c.split("=", 1)[0] for c in cookies if "secure" not in c.lower().replace(" ", "").split(";")]
    assert not insecure, f"{url}: cookies not marked Secure (sent over plain HTTP too): {insecure}"


@pytest.mark.gateway
def test_dashboard_over_http_only_redirects_to_https(host, inventory):
    """Plain HTTP serves no page, whatever the name asked for: every path is
    redirected to the same path over HTTPS on the public address."""
    gw = inventory.host(host.backend.hostname)
    for name in (gw.public_address, "localhost"):
        connection = http.client.HTTPConnection(gw.public_address, dashboard.HTTP_PORT, timeout=30)
        try:
            connection.request("GET", dashboard.WEBROOT + "auth/login/", headers={"Host": name})
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        location = response.getheader("Location") or ""
        wanted = f"https://{gw.public_address}{dashboard.WEBROOT}auth/login/"
        assert response.status in (301, 308) and location == wanted, (
            f"http://{gw.public_address} (Host: {name}) answered {response.status} {location!r} "
            f"({len(body)} bytes), not a redirect to {wanted}")


@pytest.mark.gateway
def test_novnc_proxy_speaks_tls_only_with_the_suites_certificate(host, inventory):
    """The console proxy on the public address: HTTPS with the suite's certificate
    for that address; a plain HTTP request gets no page."""
    gw = inventory.host(host.backend.hostname)
    url = f"https://{gw.public_address}:{NOVNC_PORT}/vnc_auto.html"
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=suite_tls(inventory)))
    with direct.open(url, timeout=60) as response:
        assert response.status == 200 and b"noVNC" in response.read(), f"{url}: not the noVNC page"
    connection = http.client.HTTPConnection(gw.public_address, NOVNC_PORT, timeout=30)
    try:
        connection.request("GET", "/vnc_auto.html")
        plain = connection.getresponse()
        served = plain.status == 200 and b"noVNC" in plain.read()
    except (OSError, http.client.HTTPException):
        served = False
    finally:
        connection.close()
    assert not served, f"http://{gw.public_address}:{NOVNC_PORT}/vnc_auto.html serves the console page in clear"


@pytest.mark.gateway
def test_browser_logs_in_as_admin_and_reaches_instances(host, inventory, secrets):
    from selenium.webdriver.common.by import By

    gw = inventory.host(host.backend.hostname)
    base = dashboard.url(gw)
    driver = headless_chromium(trusted_keys=(verified_key_hash(inventory, gw.public_address, dashboard.HTTPS_PORT),))
    try:
        driver.get(dashboard.http_url(gw) + "auth/login/")   # as a user types it: redirected to HTTPS
        wait_for(lambda: driver.current_url.startswith(base), 60, f"the browser to land on {base}",
                 describe=lambda _: driver.current_url)
        driver.find_element(By.ID, "id_username").send_keys("admin")
        driver.find_element(By.ID, "id_password").send_keys(secrets.get("admin_keystone").reveal())
        driver.find_element(By.ID, "loginBtn").click()
        wait_for(lambda: "/auth/login" not in driver.current_url, 120, "the dashboard to leave its login page",
                 describe=lambda _: driver.current_url)
        driver.get(base + "project/instances/")
        heading = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".page-header h1, h1"), 60,
                           "the instances page heading")
        text = " ".join(h.text for h in heading)
        assert "Instances" in text, f"{driver.current_url}: heading {text!r}, not the instances page"
    finally:
        driver.quit()


@pytest.mark.gateway
def test_only_ssh_dashboard_and_novnc_answer_on_the_public_address(host, inventory):
    gw = inventory.host(host.backend.hostname)
    listening = set()
    for line in host.check_output("ss -Hltn").splitlines():
        port = line.split()[3].rpartition(":")[2]
        listening.add(int(port))

    def answers(port: int) -> bool:
        try:
            with socket.create_connection((gw.public_address, port), timeout=2):
                return True
        except OSError:  # refused, or dropped (timeout)
            return False

    ports = sorted(listening | set(PUBLIC_PORTS))
    with ThreadPoolExecutor(16) as pool:
        answering = {p for p, ok in zip(ports, pool.map(answers, ports)) if ok}
    unexpected = sorted(answering - set(PUBLIC_PORTS))
    closed = sorted(f"{p} ({name})" for p, name in PUBLIC_PORTS.items() if p not in answering)
    assert not unexpected, f"{gw.name} {gw.public_address}: unexpected ports answer: {unexpected}"
    assert not closed, f"{gw.name} {gw.public_address}: expected ports closed: {closed}"
