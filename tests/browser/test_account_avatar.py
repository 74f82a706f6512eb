"""The account page's picture without internet: the Gravatar URL stays, and when it cannot load the
person's initials show in its place, not a broken image (no script: CSS layers only)."""

import base64

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_avatar_falls_back_to_initials_when_gravatar_is_unreachable(page: Page, server, make_user):
    user = make_user(fullname="Ada Lovelace")
    page.route("https://gravatar.com/**", lambda route: route.abort("internetdisconnected"))
    page.goto(server.url + "/login")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password", exact=True).fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + "/account")

    avatar = page.locator(".avatar")
    picture = avatar.locator("img")
    expect(picture).to_have_attribute("src", f"https://gravatar.com/avatar/{_md5(user.email)}?s=200&d=identicon")
    page.wait_for_function("img => img.complete", arg=picture.element_handle())
    assert picture.evaluate("img => img.naturalWidth") == 0  # it really failed
    expect(avatar.locator(".avatar-initials")).to_have_text("AL")
    broken = avatar.screenshot()
    picture.evaluate("img => img.remove()")
    # The broken picture paints nothing over the initials but anti-aliasing: no pixel differs by much
    # from the page without it (the broken-image icon would).
    assert strongly_different_pixels(page, broken, avatar.screenshot()) == 0


def test_favicon_is_served_locally(page: Page, server):
    response = page.request.get(server.url + "/favicon.ico")
    assert response.status == 200 and response.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file


def strongly_different_pixels(page: Page, first: bytes, second: bytes, threshold: int = 64) -> int:
    """How many pixels of two same-sized PNG screenshots differ by more than ``threshold`` in a channel."""
    return page.evaluate("""async ([first, second, threshold]) => {
        const load = async (data) => {
            const image = new Image();
            image.src = "data:image/png;base64," + data;
            await image.decode();
            const canvas = document.createElement("canvas");
            canvas.width = image.width;
            canvas.height = image.height;
            const context = canvas.getContext("2d");
            context.drawImage(image, 0, 0);
            return context.getImageData(0, 0, image.width, image.height).data;
        };
        const [a, b] = [await load(first), await load(second)];
        if (a.length !== b.length) return -1;
        let count = 0;
        for (let i = 0; i < a.length; i += 4) {
            const delta = Math.max(...[0, 1, 2].map((c) => Math.abs(a[i + c] - b[i + c])));
            if (delta > threshold) count++;
        }
        return count;
    }""", [base64.b64encode(first).decode(), base64.b64encode(second).decode(), threshold])


def _md5(email: str) -> str:
    import hashlib
    return hashlib.md5(email.encode(), usedforsecurity=False).hexdigest()
