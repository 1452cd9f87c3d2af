"""Images into Glance: uploaded once by content, replaced when changed."""
import hashlib
import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from deploy import glance_images
from deploy.inventory import Image, load_inventory

ROOT = Path(__file__).resolve().parent.parent


class Model(dict):
    """Like glanceclient's warlock models: a dict whose keys are attributes too."""
    __getattr__ = dict.__getitem__


class FakeImages:
    def __init__(self):
        self.store = {}
        self.ids = itertools.count(1)
        self.uploads = 0

    def list(self, filters):
        return [Model(i) for i in self.store.values() if i["name"] == filters["name"]]

    def create(self, **kw):
        image = {"id": f"img-{next(self.ids)}", "status": "queued", **kw}
        self.store[image["id"]] = image
        return Model(image)

    def upload(self, image_id, f):
        data = f.read()
        self.uploads += 1
        self.store[image_id].update(status="active", os_hash_value=hashlib.sha512(data).hexdigest())

    def get(self, image_id):
        return Model(self.store[image_id])

    def delete(self, image_id):
        del self.store[image_id]


class FakeGlance:
    def __init__(self):
        self.images = FakeImages()


@pytest.fixture
def inv(tmp_path):
    base = load_inventory(ROOT / "inventory.yaml", check_keys=False)
    return replace(base, images=(Image("tiny", file=tmp_path / "tiny.qcow2"),))


def test_upload_once_then_leave_alone_then_replace_when_changed(inv, tmp_path):
    image = tmp_path / "tiny.qcow2"
    image.write_bytes(b"QFI\xfbfirst")
    glance = FakeGlance()
    files = glance_images.local_files(inv, tmp_path)
    assert glance_images.converge(inv, None, files, glance=glance)[0][1] is True
    again = glance_images.converge(inv, None, files, glance=glance)
    assert again == [("tiny", False, "tiny.qcow2 already in Glance (same sha512)")] and glance.images.uploads == 1
    image.write_bytes(b"QFI\xfbsecond")
    changed = glance_images.converge(inv, None, files, glance=glance)
    assert changed[0][1] is True and changed[0][2].startswith("replaced a changed image")
    assert [i["name"] for i in glance.images.store.values()] == ["tiny"]


def test_a_missing_file_names_the_image(inv, tmp_path):
    with pytest.raises(glance_images.ImageImportError, match=r"images: tiny: file .*tiny.qcow2 does not exist"):
        glance_images.local_files(inv, tmp_path)


def test_a_download_with_the_wrong_checksum_is_refused(tmp_path):
    source = tmp_path / "cirros.img"
    source.write_bytes(b"not what was promised")
    image = Image("cirros", url=source.as_uri(), checksum="sha256:" + "0" * 64)
    with pytest.raises(glance_images.ImageImportError, match="has sha256 .* the inventory says 0000"):
        glance_images.local_file(image, tmp_path / "cache")
    assert not list((tmp_path / "cache" / "downloads").iterdir())
