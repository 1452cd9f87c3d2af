"""Checks of 07-openstack-controller: the control plane listens on the
management network, Keystone issues tokens, every endpoint answers, Glance
lists images, Nova's, Neutron's and Cinder's services are up, a volume lands on
the GlusterFS share, the databases are at their head schema."""
import pytest
from cinderclient import client as cinder_client
from glanceclient import Client as GlanceClient
from keystoneclient.v3 import client as keystone_client
from novaclient import client as nova_client

from checks.openstack import (CINDER_MICROVERSION, NOVA_MICROVERSION, Neutron, admin_session,
                              kept_connection_problem, service_table, unhealthy_services, user_session,
                              wait_volume)
from checks.readings import version_document_problem, version_url
from deploy.phases.p07_openstack_controller.flavors import FLAVORS
from deploy import glance_images
from deploy.phases.p07_openstack_controller import image_cache
from deploy.services import listening_ports, schema_checks, service_users
from deploy.services.cinder import MOUNT_BASE, share

pytestmark = [pytest.mark.p07, pytest.mark.usefixtures("phase_p07")]

# the controller's infrastructure, then every OpenStack service's ports (its SPEC)
PORTS = {3306: "MariaDB", 5672: "RabbitMQ", 11211: "memcached", **listening_ports()}
SERVICE_USERS = service_users()


@pytest.fixture(scope="module")
def session(inventory, secrets):
    return admin_session(inventory, secrets)


@pytest.mark.controller
def test_ports_listen_on_the_management_network_only(host, inventory):
    me = inventory.host(host.backend.hostname)
    listening = {}
    for line in host.check_output("ss -Hltn").splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        listening.setdefault(int(port), []).append(address.strip("[]"))
    missing = [f"{port} ({name})" for port, name in PORTS.items() if port not in listening]
    assert not missing, f"{me.name}: nothing listens on " + ", ".join(missing)
    allowed = {me.address, "0.0.0.0", "*", "::"} if not me.public_address else {me.address}
    wrong = {f"{port} ({name})": listening[port] for port, name in PORTS.items()
             if not set(listening[port]) <= allowed | {"127.0.0.1", "::1"}}
    assert not wrong, f"{me.name}: listening beyond the management address: {wrong}"


@pytest.mark.controller
def test_admin_gets_a_token_and_every_service_user_exists(session):
    keystone = keystone_client.Client(session=session, interface="public")
    assert session.get_token(), "no token for admin"
    names = {u.name for u in keystone.users.list()}
    missing = {"admin", *SERVICE_USERS} - names
    assert not missing, f"Keystone user list lacks {sorted(missing)} (has {sorted(names)})"


@pytest.mark.controller
def test_every_catalog_endpoint_returns_its_version_document(session):
    """GET on each endpoint of the catalog (without its project part) answers
    200 or 300 with the service's version document, as version discovery
    (keystoneauth, the clients) reads it: a wrong path or port fails here."""
    keystone = keystone_client.Client(session=session, interface="public")
    services = {s.id: s for s in keystone.services.list()}
    failed = []
    for ep in keystone.endpoints.list():
        url = version_url(ep.url)
        problems = []
        for attempt in (url, url.rstrip("/") + "/"):  # some version roots answer only with the slash
            try:
                response = session.get(attempt, authenticated=True, raise_exc=False)
                problem = version_document_problem(response.status_code, response.text)
            except Exception as e:  # connection refused, timeout: the endpoint does not answer
                problem = f"{type(e).__name__}: {e}"
            if problem is None:
                break
            problems.append(problem)
        else:
            failed.append(f"{services[ep.service_id].name} {ep.interface} {url}: {problems[0]}")
    assert not failed, "endpoints without their version document: " + "; ".join(failed)


@pytest.mark.controller
def test_every_catalog_endpoint_answers_a_client_that_keeps_its_connection(session):
    """HTTP/1.1 clients (keystoneauth, the `openstack` CLI) send their next request
    on the same connection unless the answer said `Connection: close`. An API
    that closes without saying so resets that request (seen in CI: the CLI's
    `server delete --wait` after the DELETE's 204). HEAD, GET, GET on one
    connection to every server of the catalog must all be answered."""
    keystone = keystone_client.Client(session=session, interface="public")
    services = {s.id: s.name for s in keystone.services.list()}
    servers = {}
    for ep in keystone.endpoints.list():
        root = "/".join(ep.url.split("/")[:3])
        servers.setdefault(root, services[ep.service_id])
    failed = [f"{name} {root}: {problem}" for root, name in sorted(servers.items())
              if (problem := kept_connection_problem(root)) is not None]
    assert not failed, "APIs that close a kept connection without saying so: " + "; ".join(failed)


@pytest.mark.controller
def test_glance_has_every_inventory_image_active_with_its_checksum(session, inventory):
    """The report's 18-add-cirros / 19-add-ubuntu: each image listed, active, and
    the very bytes this machine has (sha512, Glance's os_hash_value)."""
    glance = GlanceClient("2", session=session)
    listed = {}
    for image in glance.images.list():
        listed.setdefault(image["name"], []).append(image)
    files = glance_images.local_files(inventory, image_cache())
    wrong = []
    for image in inventory.images:
        have = listed.get(image.name, [])
        want = glance_images.digest(files[image.name], "sha512")
        if [(i["status"], i.get("os_hash_value")) for i in have] != [("active", want)]:
            wrong.append(f"{image.name}: {[(i['id'], i['status'], (i.get('os_hash_value') or '')[:12]) for i in have]}"
                         f", wanted one active with sha512 {want[:12]}")
    assert not wrong, "Glance images: " + "; ".join(wrong)


def assert_services_up(project: str, services, required: set[str]) -> None:
    """The report's service table: the required binaries present, every row up and enabled."""
    table = service_table(services)
    print("\n" + table)
    missing = required - {s.binary for s in services}
    assert not missing, f"missing {project} services {sorted(missing)}:\n{table}"
    wrong = unhealthy_services(services)
    assert not wrong, f"{project} services not up and enabled: {wrong}\n{table}"


@pytest.mark.controller
def test_nova_services_all_up(session):
    nova = nova_client.Client(NOVA_MICROVERSION, session=session)
    assert_services_up("Nova", nova.services.list(), {"nova-conductor", "nova-scheduler"})


@pytest.mark.controller
def test_the_inventorys_flavors_exist_with_their_ids_and_sizes(session, inventory):
    """Phase 07's flavors (29-flavors-create): public, with the id and size the suite gives each."""
    nova = nova_client.Client(NOVA_MICROVERSION, session=session)
    have = {f.name: f for f in nova.flavors.list(is_public=None)}
    wrong = []
    for name in inventory.flavors:
        fid, vcpus, ram, disk = FLAVORS[name]
        f = have.get(name)
        got = None if f is None else (f.id, f.vcpus, f.ram, f.disk, f.is_public)
        if got != (fid, vcpus, ram, disk, True):
            wrong.append(f"{name}: {got or 'missing'}; wanted (id, vCPUs, MiB, GB, public) "
                         f"{(fid, vcpus, ram, disk, True)}")
    assert not wrong, "; ".join(wrong)


@pytest.mark.controller
def test_neutron_answers_with_networks(session):
    response = Neutron(session).response("GET", "/networks")
    assert response.status_code == 200 and "networks" in response.json()


@pytest.fixture(scope="module")
def cinder(session):
    return cinder_client.Client(CINDER_MICROVERSION, session=session)


@pytest.mark.controller
def test_cinder_services_all_up(cinder):
    assert_services_up("Cinder", cinder.services.list(), {"cinder-scheduler", "cinder-volume"})


@pytest.mark.controller
def test_a_volume_is_a_file_on_the_glusterfs_share(host, cinder, inventory, request):
    """Create a 1 GB volume; it becomes available, and its file is on the
    GlusterFS volume Cinder mounted (not on the controller's own disk)."""
    volume = cinder.volumes.create(1, name="check-p07-volume")
    request.addfinalizer(lambda: cinder.volumes.delete(volume))

    wait_volume(cinder, volume.id, "available")
    mounts = host.check_output("findmnt -rn -t fuse.glusterfs -o SOURCE,TARGET")
    mounted = dict(line.split(" ", 1) for line in mounts.splitlines())
    target = mounted.get(share(inventory))
    assert target and target.startswith(MOUNT_BASE), \
        f"{host.backend.hostname}: {share(inventory)} not mounted under {MOUNT_BASE} (GlusterFS mounts: {mounted})"
    assert host.file(f"{target}/volume-{volume.id}").exists, \
        f"{host.backend.hostname}: volume-{volume.id} not on the share at {target}"


@pytest.mark.controller
def test_databases_at_head_schema(host):
    checks = schema_checks()   # each service's own (its SPEC)
    failed = {}
    for name, command in checks.items():
        result = host.run(command)
        if result.rc != 0:
            failed[name] = (result.stdout + result.stderr).strip()[-400:]
    assert not failed, f"{host.backend.hostname}: schema checks failed: {failed}"


@pytest.mark.controller
def test_service_users_log_in_with_the_secrets_file_passwords(inventory, secrets):
    """Each service's Keystone user accepts the password the secrets file holds,
    which is the one written into that service's config."""
    from keystoneauth1 import exceptions

    failing = []
    for user in SERVICE_USERS:
        try:
            user_session(inventory, user, secrets.get(f"{user}_keystone").reveal(), timeout=30,
                         connect_retries=0).get_token()
        except exceptions.Unauthorized:
            failing.append(user)
    assert not failing, f"Keystone refuses the secrets file's password for service users {failing}: " \
                        "those services cannot validate tokens; the next deploy run puts it right"
