"""The suite's own certificate authority: one per inventory, kept beside its
secrets file (inventory.yaml -> inventory.pki/, 0700, every file 0600).

It signs what needs TLS between the hosts and on the public side: libvirt's
migration socket and QEMU's migration stream (mutual TLS between the computes),
Horizon on the gateway's public address, the noVNC proxy. A certificate is
issued once and reused; it is issued again only when what it must name changed
(a host's address, its name), when it was not signed by this authority, or
when it expires within RENEW_BEFORE. The operator trusts `ca.pem` in a browser
or passes it to clients (`--os-cacert`).

A private key is a secret: registered for masking, written only into 0600 files
here and into root-only files on the host that uses it. Issued certificates
live in issued/ (no host name can collide with the authority's own files).
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from .secrets import Secret, Secrets, SecretsError, register, write_private

CA_NAME = "deploy suite CA"
CA_DAYS = 3650
LEAF_DAYS = 397                 # the browsers' longest accepted lifetime
RENEW_BEFORE = datetime.timedelta(days=30)
PURPOSES = ("server", "client", "both")
ISSUED = "issued"
# Phases make their hosts' steps in parallel threads, each maybe with its own
# Authority of the same folder: one lock for all, so one CA is ever made.
_FOLDER_LOCK = threading.Lock()


class PkiError(SecretsError):
    pass


@dataclass(frozen=True)
class Issued:
    """A certificate (PEM) and its private key (PEM, a Secret: shown as ******)."""
    name: str
    cert: str
    key: Secret


CA_FILE = "ca.pem"


def folder_for(secrets_path: Path) -> Path:
    """inventory.secrets.yaml -> inventory.pki (same directory, same stem)."""
    stem = secrets_path.name.removesuffix(".yaml").removesuffix(".secrets")
    return secrets_path.with_name(stem + ".pki")


def ca_file(secrets_path: Path) -> Path:
    """The authority's certificate, what clients and browsers are told to trust."""
    return folder_for(secrets_path) / CA_FILE


class Authority:
    """The CA of one inventory; `issue` returns a stored certificate or makes one."""

    def __init__(self, folder: Path | None):
        self.folder = folder            # None: placeholders (plans, listings)
        self._lock = threading.Lock()
        self._ca: tuple[object, object] | None = None

    @classmethod
    def placeholders(cls) -> Authority:
        return cls(None)

    @classmethod
    def beside(cls, secrets: Secrets) -> Authority:
        if not secrets.create:
            return cls.placeholders()
        return cls(folder_for(secrets.path))

    # -- the authority itself --------------------------------------------------
    def ca_pem(self) -> str:
        if self.folder is None:
            return "<certificate:ca>\n"
        from cryptography.hazmat.primitives import serialization
        cert, _ = self._authority()
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def ca_path(self) -> Path | None:
        if self.folder is None:
            return None
        self._authority()
        return self.folder / CA_FILE

    def _authority(self):
        with _FOLDER_LOCK:
            if self._ca is None:
                self._ca = self._load_or_make_ca()
            return self._ca

    def _load_or_make_ca(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        assert self.folder is not None
        cert_path, key_path = self.folder / CA_FILE, self.folder / "ca.key"
        if cert_path.exists() or key_path.exists():
            cert = x509.load_pem_x509_certificate(_read(cert_path).encode())
            key = serialization.load_pem_private_key(_read(key_path).encode(), password=None)
            register(_read(key_path))
            return cert, key
        self._make_folder()
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
        now = _now()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                                             key_cert_sign=True, crl_sign=True, encipher_only=False,
                                             decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        key_pem = _key_pem(key)
        register(key_pem)
        write_private(key_path, key_pem, what="the CA key")
        write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM).decode(), what="the CA certificate")
        return cert, key

    def _make_folder(self) -> None:
        assert self.folder is not None
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
        except OSError as e:
            raise PkiError(f"{self.folder}: cannot create the certificate folder ({e.strerror})") from None
        info = os.lstat(self.folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            raise PkiError(f"{self.folder}: must be a directory of this user's own")
        os.chmod(self.folder, 0o700)

    # -- certificates ----------------------------------------------------------
    def issue(self, name: str, addresses: list[str], purpose: str = "server") -> Issued:
        """The certificate `name` (its common name, also its file name) for the
        host names and IP addresses in `addresses` (subject alternative names)."""
        if purpose not in PURPOSES:
            raise ValueError(f"purpose {purpose!r} is not one of {PURPOSES}")
        if self.folder is None:
            return Issued(name, f"<certificate:{name}>\n", Secret(f"<secret:key-{name}>\n"))
        ca_cert, ca_key = self._authority()
        with _FOLDER_LOCK:
            stored = self._stored(name, addresses, purpose, ca_cert)
            if stored is not None:
                return stored
            return self._make(name, addresses, purpose, ca_cert, ca_key)

    def _stored(self, name, addresses, purpose, ca_cert) -> Issued | None:
        from cryptography import x509

        from cryptography.hazmat.primitives import serialization

        cert_path, key_path = self._leaf_paths(name)
        if not (cert_path.exists() and key_path.exists()):
            return None
        cert_pem, key_pem = _read(cert_path), _read(key_path)
        register(key_pem)
        cert = x509.load_pem_x509_certificate(cert_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        if not (_signed_by(cert, ca_cert) and _same_key(cert.public_key(), key.public_key())):
            return None   # another authority's (a CA made again), or a key left by a renewal that died
        try:
            usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        fresh = (cert.issuer == ca_cert.subject and _sans(cert) == _wanted_sans(addresses)
                 and _purpose(cert) == purpose and usage == _leaf_key_usage()
                 and cert.not_valid_after_utc - RENEW_BEFORE > _now())
        return Issued(name, cert_pem, Secret(key_pem)) if fresh else None

    def _make(self, name, addresses, purpose, ca_cert, ca_key) -> Issued:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        usages = {"server": [ExtendedKeyUsageOID.SERVER_AUTH], "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
                  "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]}[purpose]
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                .issuer_name(ca_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(_leaf_key_usage(), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                .add_extension(x509.SubjectAlternativeName(_general_names(addresses)), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        key_pem, cert_pem = _key_pem(key), cert.public_bytes(serialization.Encoding.PEM).decode()
        register(key_pem)
        cert_path, key_path = self._leaf_paths(name)
        try:
            cert_path.parent.mkdir(mode=0o700, exist_ok=True)
        except OSError as e:
            raise PkiError(f"{cert_path.parent}: cannot create ({e.strerror})") from None
        write_private(key_path, key_pem, what=f"the key of {name}")
        write_private(cert_path, cert_pem, what=f"the certificate of {name}")
        return Issued(name, cert_pem, Secret(key_pem))

    def _leaf_paths(self, name: str) -> tuple[Path, Path]:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"certificate name {name!r}: a plain file name is needed")
        folder = self.folder / ISSUED
        return folder / f"{name}.pem", folder / f"{name}.key"


def _leaf_key_usage():
    """What a leaf may do with its key. libvirt (GnuTLS) refuses a server
    certificate without key encipherment, whatever the key's type."""
    from cryptography import x509
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                         data_encipherment=False, key_agreement=True, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def _signed_by(cert, ca_cert) -> bool:
    """Really signed by this CA's key (a CA made again has the same name)."""
    try:
        cert.verify_directly_issued_by(ca_cert)
        return True
    except Exception:   # InvalidSignature, a wrong issuer name, an unsupported algorithm
        return False


def _same_key(a, b) -> bool:
    from cryptography.hazmat.primitives import serialization
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*spki) == b.public_bytes(*spki)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _key_pem(key) -> str:
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _read(path: Path) -> str:
    """A file of the folder: this user's own, not readable by others, not a symlink."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise PkiError(f"{path}: cannot read ({e.strerror})") from None
    with os.fdopen(fd) as f:
        info = os.fstat(f.fileno())
        if info.st_uid != os.geteuid() or info.st_mode & 0o077:
            raise PkiError(f"{path}: must be this user's own with mode 600 (is {info.st_mode & 0o777:o})")
        return f.read()


def _general_names(addresses: list[str]):
    from cryptography import x509
    names = []
    for a in addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(a)))
        except ValueError:
            names.append(x509.DNSName(a))
    return names


def _wanted_sans(addresses: list[str]) -> set[str]:
    return {str(n.value) for n in _general_names(addresses)}


def _sans(cert) -> set[str]:
    from cryptography import x509
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return set()
    return {str(n.value) for n in ext.value}


def _purpose(cert) -> str:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID
    try:
        usages = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return ""
    server, client = ExtendedKeyUsageOID.SERVER_AUTH in usages, ExtendedKeyUsageOID.CLIENT_AUTH in usages
    return "both" if server and client else "server" if server else "client" if client else ""
