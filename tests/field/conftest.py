"""The field's fixtures: a village with a clerk, a reviewer and residents with cards, and photos made in memory."""
from __future__ import annotations

import io
import textwrap

import pytest
from PIL import Image

from ..conftest import RULES

FIELD_RULES = RULES + textwrap.indent(textwrap.dedent("""\
    - code: planting
      name: 义务植树
      category: 环境卫生
      points: 4
      unit: 次
      evidence: required
    """), "  ")


def jpeg(size=(800, 600), *, exif: bytes | None = None, color="green") -> bytes:
    """A JPEG made here, optionally carrying EXIF (with GPS) as a phone writes it."""
    out = io.BytesIO()
    image = Image.new("RGB", size, color)
    if exif is not None:
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def gps_exif() -> bytes:
    """EXIF with a camera model and a GPS position, as a phone photo carries."""
    exif = Image.Exif()
    exif[0x0110] = "VillagePhone 9"  # Model
    exif[0x8825] = {1: "N", 2: (28.0, 30.0, 0.0), 3: "E", 4: (115.0, 20.0, 0.0)}  # GPSInfo
    return exif.tobytes()


@pytest.fixture
def village(make):
    """A bank whose rules include one that needs a photo, a clerk, a reviewer and three residents with cards."""
    from cards.services import issue_cards

    bank = make.bank(rules=FIELD_RULES)
    home = make.household(bank, "E01", "王家")
    people = [make.resident(bank, n, home) for n in ("王大", "王二", "王三")]
    issued = issue_cards(make.session, bank, resident_ids=[p.id for p in people], by="test", clock=make.clock)
    return {"bank": bank, "people": people, "clerk": make.token(bank, "clerk"),
            "reviewer": make.token(bank, "reviewer"), "cards": issued}


def upload(client, headers, data: bytes, *, bank="hp", name="p.jpg"):
    return client.post(f"/api/v1/banks/{bank}/photos", headers=headers,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
