"""The grid worker's phone app in a real browser: a fake camera shows a card's QR, the signal goes and comes back."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest
import qrcode
from PIL import Image
from sqlalchemy import func, select

from cards.sheet import card_url
from field.models import Checkin, Evidence, Photo
from ledger.models import Transfer

from ..conftest import CHROMIUM
from .conftest import gps_exif, jpeg

PASSWORD = "correct horse battery"


def _y4m(picture: Image.Image, path, *, size=(640, 480), frames=5) -> None:
    """Write a still picture as a YUV4MPEG2 video (4:2:0), what Chromium's fake camera plays."""
    frame = Image.new("RGB", size, "white")
    picture.thumbnail((size[1] - 40, size[1] - 40))
    frame.paste(picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (size[0] // 2, size[1] // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{size[0]} H{size[1]} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + planes)


def _count(session, model):
    session.rollback()
    return session.execute(select(func.count()).select_from(model)).scalar()


@pytest.fixture
def phone(village, make, live_server, tmp_path, playwright):
    """Chromium whose camera shows the first resident's printed card, and a grid worker to sign in."""
    from field.activities import create_activity

    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed")
    make.user(village["bank"], "clerk", name="grid")
    create_activity(make.session, village["bank"], title="清理河道", rule_code="cleanup", quantity=1,
                    starts_at=datetime(2026, 10, 15, 0, 0, tzinfo=timezone.utc),
                    ends_at=datetime(2026, 10, 15, 10, 0, tzinfo=timezone.utc), place="村口",
                    capacity=None, by="test", clock=make.clock)
    video = tmp_path / "card.y4m"
    _y4m(qrcode.make(card_url(live_server, village["cards"][0].token)).convert("RGB"), video)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
        "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream", f"--use-file-for-fake-video-capture={video}"])
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN",
                                  permissions=["camera"])
    yield context
    browser.close()


def test_the_grid_worker_scans_a_card_to_check_in_and_sends_three_offline_deeds_exactly_once(
        phone, village, session, live_server, artifacts):
    page = phone.new_page()
    first = page.goto(f"{live_server}/m/")
    assert first.ok
    page.fill("#name", "grid")
    page.fill("#password", PASSWORD)
    page.click("#signin-form button")
    page.wait_for_selector("#work:not([hidden])")

    # A rule is found by any part of its initials or its full pinyin; nothing typed lists them all.
    listed = lambda: page.eval_on_selector_all("#rules li", "items => items.map(i => i.dataset.code)")  # noqa: E731
    page.wait_for_function("() => document.querySelectorAll('#rules li').length > 0")
    assert len(listed()) == 5                                     # every rule of the village
    for typed in ("jz", "jing", "Huan Jing"):
        page.fill("#rule-q", typed)
        assert listed() == ["cleanup"], typed
    page.fill("#rule-q", "")

    # At the activity: the camera reads the card's QR and the resident is checked in.
    page.select_option("#activity", label="签到：清理河道")
    page.click("#scan")
    page.wait_for_function("() => document.querySelector('#sent').textContent.includes('已签到：王大')", timeout=20000)
    assert _count(session, Checkin) == 1
    page.screenshot(path=str(artifacts / "phone-checked-in.png"))

    # Back to logging deeds; the signal goes.
    page.select_option("#activity", value="")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    phone.set_offline(True)
    number = village["cards"][1].card.number
    for memo in ("一", "二", "三"):
        page.fill("#number", number)
        page.press("#number", "Enter")
        page.fill("#rule-q", "hjzz")
        page.click("#rules li[data-code=cleanup]")
        page.fill("#memo", f"扫村口第{memo}次")
        if memo == "三":  # a photo taken without a signal goes up with its deed
            page.set_input_files("#photo", files=[{"name": "lane.jpg", "mimeType": "image/jpeg",
                                                   "buffer": jpeg((1200, 900), exif=gps_exif())}])
        page.click("#submit")
        page.wait_for_function(f"() => document.querySelector('#waiting').textContent.includes('{'一二三'.index(memo) + 1} 条')")
    assert page.inner_text("#waiting") == "待发送 3 条"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(artifacts / "phone-offline-three-waiting.png"), full_page=True)

    # A reload without a signal: the app opens from the service worker and nothing is lost.
    page.reload()
    page.wait_for_selector("#work:not([hidden])")
    page.wait_for_function("() => document.querySelector('#waiting').textContent === '待发送 3 条'")
    assert _count(session, Transfer) == 0

    # The signal returns: the three are sent, once.
    phone.set_offline(False)
    page.wait_for_function("() => document.querySelector('#waiting').textContent === '待发送 0 条'", timeout=20000)
    assert _count(session, Transfer) == 3
    page.evaluate("() => send()")
    page.wait_for_timeout(500)
    assert _count(session, Transfer) == 3
    memos = session.execute(select(Transfer.memo).order_by(Transfer.seq)).scalars().all()
    assert memos == ["扫村口第一次", "扫村口第二次", "扫村口第三次"]
    [(memo, photo)] = session.execute(select(Transfer.memo, Evidence.photo_id).join(
        Evidence, Evidence.transfer_id == Transfer.id)).all()
    assert memo == "扫村口第三次" and _count(session, Photo) == 1


def test_the_phone_app_loads_in_under_200_kb_with_everything_it_needs(client):
    total = 0
    for name in ("", "app.js", "app.css", "jsQR.js", "manifest.webmanifest", "icon.svg", "sw.js", "i18n/zh.json"):
        answer = client.get(f"/m/{name}", headers={"Accept-Encoding": "gzip, deflate"})
        assert answer.status_code == 200, name
        total += len(answer.data)
    assert total < 200 * 1024
    index = client.get("/m/").data.decode()
    assert "http" not in index.replace('lang="zh-CN"', "")  # nothing fetched from outside


def test_the_phone_signs_in_for_a_token_and_a_wrong_password_is_refused(client, village, make):
    make.user(village["bank"], "clerk", name="grid")
    wrong = client.post("/m/token", json={"name": "grid", "password": "nope"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "unauthorized"
    assert client.post("/m/token", data=b"[[[", content_type="application/json").status_code == 400
    right = client.post("/m/token", json={"name": "grid", "password": PASSWORD})
    assert right.status_code == 201 and right.get_json()["bank"] == "hp"
    start = client.get("/api/v1/banks/hp/phone", headers={"Authorization": f"Bearer {right.get_json()['token']}"})
    rules = {r["code"]: r["initials"] for r in start.get_json()["rules"]}
    assert rules["cleanup"] == "hjzz"
    assert start.get_json()["backdate_days"] == 45  # the rule file's default: the date field's reach
