"""find_links: share links in plain-text and HTML message bodies."""

from __future__ import annotations

import pytest

from fetchers.links import classify, find_links, normalize

SIGNATURE = """
--
Jane Smith | Safety Coordinator | Acme Roofing Ltd.
https://www.acmeroofing.ca  |  https://www.linkedin.com/company/acme-roofing
Download our app: https://apps.apple.com/app/acme/id123
"""


def test_plain_text_link_found_and_signature_links_ignored() -> None:
    text = ("Hello, here is our SECOR submission: https://www.dropbox.com/scl/fi/a1b2c3/Acme.zip?rlkey=xyz&dl=0.\n"
            "Thanks!" + SIGNATURE)
    assert find_links(text) == ["https://www.dropbox.com/scl/fi/a1b2c3/Acme.zip?rlkey=xyz&dl=0"]


def test_rlkey_and_resourcekey_are_kept() -> None:
    text = ("https://www.dropbox.com/scl/fo/f00/h00?rlkey=abc123&st=zz&dl=0 and "
            "https://drive.google.com/drive/folders/1AbC?resourcekey=0-XyZ&usp=sharing")
    links = find_links(text)
    assert "rlkey=abc123" in links[0]
    assert "resourcekey=0-XyZ" in links[1]


def test_html_anchor_with_different_text_yields_its_target() -> None:
    html = ('<p>Please find our files <a href="https://drive.google.com/file/d/1XyZ/view?usp=sharing">here</a>.</p>'
            '<p><a href="https://1drv.ms/u/s!AbCdEf">https://www.acmeroofing.ca/secor</a></p>'
            '<p><a href="https://www.acmeroofing.ca">Acme Roofing</a></p>')
    assert find_links("", html) == ["https://drive.google.com/file/d/1XyZ/view?usp=sharing", "https://1drv.ms/u/s!AbCdEf"]


def test_same_link_in_text_and_html_counted_once_in_order_of_appearance() -> None:
    text = "Link 1: https://db.tt/AbC12\nLink 2: https://www.dropbox.com/s/k3y/Acme%20SECOR.zip?dl=0"
    html = ('<a href="https://www.dropbox.com/s/k3y/Acme%20SECOR.zip?dl=1">Acme SECOR.zip</a>'
            '<a href="https://db.tt/AbC12">short</a>'
            '<a href="https://docs.google.com/document/d/1Doc/edit?usp=sharing">evaluation tool</a>')
    assert find_links(text, html) == [
        "https://db.tt/AbC12",
        "https://www.dropbox.com/s/k3y/Acme%20SECOR.zip?dl=0",
        "https://docs.google.com/document/d/1Doc/edit?usp=sharing",
    ]


def test_unsupported_file_sharing_services_are_reported_but_plain_sites_are_not() -> None:
    text = ("https://we.tl/t-AbCdEf12 https://wetransfer.com/downloads/0a1b2c/3d4e5f https://app.box.com/s/q1w2e3 "
            "https://www.icloud.com/iclouddrive/0AbC#Acme https://mega.nz/file/AbC#key "
            "https://wetransfer.com/ https://www.box.com/pricing https://www.dropbox.com/business")
    links = find_links(text)
    assert links == ["https://we.tl/t-AbCdEf12", "https://wetransfer.com/downloads/0a1b2c/3d4e5f",
                     "https://app.box.com/s/q1w2e3", "https://www.icloud.com/iclouddrive/0AbC#Acme",
                     "https://mega.nz/file/AbC#key"]
    assert [classify(u).supported for u in links] == [False] * 5


def test_every_supported_link_shape_is_recognised() -> None:
    shapes = [
        "https://www.dropbox.com/s/abc/file.zip?dl=0", "https://www.dropbox.com/sh/abc/def?dl=0",
        "https://www.dropbox.com/scl/fi/abc/file.zip?rlkey=k&dl=0", "https://www.dropbox.com/scl/fo/abc/def?rlkey=k",
        "https://db.tt/AbC", "https://drive.google.com/file/d/1Id/view", "https://drive.google.com/file/u/1/d/1Id/view",
        "https://drive.google.com/open?id=1Id", "https://drive.google.com/uc?id=1Id&export=download",
        "https://drive.usercontent.google.com/download?id=1Id", "https://drive.google.com/drive/folders/1F",
        "https://drive.google.com/drive/u/0/folders/1F", "https://docs.google.com/document/d/1D/edit",
        "https://docs.google.com/spreadsheets/d/1S/edit#gid=0", "https://docs.google.com/presentation/d/1P/edit",
        "https://1drv.ms/u/s!AbC", "https://1drv.ms/f/c/abc123/EaBc", "https://onedrive.live.com/redir?resid=A!1&authkey=!K",
        "https://contoso.sharepoint.com/:u:/g/personal/jane/EaBc?e=1", "https://contoso-my.sharepoint.com/:f:/g/personal/j/EF",
        "https://contoso.sharepoint.com/personal/j/_layouts/15/download.aspx?share=EaBc",
    ]
    found = find_links(" ".join(shapes))
    assert len(found) == len(shapes)
    assert all(classify(u).supported for u in found)


@pytest.mark.parametrize("text", [
    "https://docs.google.com/forms/d/e/1FAIpQ/viewform",  # a form, not a document
    "https://contoso.sharepoint.com/sites/Safety",  # an intranet page
    "https://drive.google.com/",  # the home page
    "https://onedrive.live.com/about/en-us/",
    "https://www.google.com/search?q=secor",
])
def test_ordinary_web_links_are_ignored(text: str) -> None:
    assert find_links(text) == []


def test_punctuation_brackets_scheme_less_and_http_links_are_cleaned() -> None:
    text = ("(see https://db.tt/Abc1) or <https://www.dropbox.com/s/k/a.zip?dl=0>, "
            "also 1drv.ms/u/s!AbCdE; and http://drive.google.com/file/d/1Q/view!")
    assert find_links(text) == ["https://db.tt/Abc1", "https://www.dropbox.com/s/k/a.zip?dl=0",
                                "https://1drv.ms/u/s!AbCdE", "https://drive.google.com/file/d/1Q/view"]


def test_outlook_safe_links_are_unwrapped() -> None:
    wrapped = ("https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.dropbox.com%2Fs%2Fk3y%2F"
               "Acme.zip%3Fdl%3D0&data=05%7C01%7C&sdata=abc&reserved=0")
    html = f'<a href="{wrapped.replace("&", "&amp;")}" originalsrc="x">Acme.zip</a>'
    assert find_links("", html) == ["https://www.dropbox.com/s/k3y/Acme.zip?dl=0"]


def test_script_and_style_contents_are_not_links() -> None:
    html = ("<html><head><style>a{background:url(https://www.dropbox.com/s/css/x.png)}</style></head>"
            "<body><script>var u='https://db.tt/Script1';</script><p>no link here</p></body></html>")
    assert find_links("", html) == []


def test_normalize_lowercases_host_and_drops_fragment_of_supported_links() -> None:
    assert normalize("HTTP://WWW.Dropbox.com:443/s/k/A.zip?dl=0#frag") == "https://www.dropbox.com/s/k/A.zip?dl=0"
