"""File-sharing services we do not download from: their links get link.unsupported, naming the service."""

from __future__ import annotations

# Host pattern -> (name, path prefixes that are share links; empty = any path other than the home page).
UNSUPPORTED: dict[str, tuple[str, tuple[str, ...]]] = {
    # Dropbox Transfer and file requests live on Dropbox's own hosts (Dropbox share links are tried first).
    **{host: ("Dropbox Transfer", ("/t/", "/request/"))
       for host in ("www.dropbox.com", "dropbox.com", "dl.dropbox.com", "dl.dropboxusercontent.com")},
    "wetransfer.com": ("WeTransfer", ("/downloads/",)), ".wetransfer.com": ("WeTransfer", ("/downloads/",)),
    "we.tl": ("WeTransfer", ()),
    "app.box.com": ("Box", ("/s/", "/v/", "/shared/")), ".app.box.com": ("Box", ("/s/", "/v/", "/shared/")),
    "box.com": ("Box", ("/s/", "/shared/")), "www.box.com": ("Box", ("/s/", "/shared/")),
    "www.icloud.com": ("iCloud", ("/iclouddrive/", "/attachment/", "/photos/")), "icloud.com": ("iCloud", ("/iclouddrive/",)),
    "share.icloud.com": ("iCloud", ()),
    "mega.nz": ("MEGA", ("/file/", "/folder/", "/#")), "mega.co.nz": ("MEGA", ()),
    "www.mediafire.com": ("MediaFire", ("/file/", "/folder/", "/?")), "mediafire.com": ("MediaFire", ("/file/", "/folder/")),
    "www.sendspace.com": ("SendSpace", ("/file/",)),
    "u.pcloud.link": ("pCloud", ()), "e.pcloud.link": ("pCloud", ()),
    "www.hightail.com": ("Hightail", ("/download/", "/shared/")), "spaces.hightail.com": ("Hightail", ()),
    "www.filemail.com": ("Filemail", ("/d/", "/t/")),
    "fromsmash.com": ("Smash", ()),
    "www.swisstransfer.com": ("SwissTransfer", ("/d/",)),
    "www.transfernow.net": ("TransferNow", ("/dl/",)),
    ".sharefile.com": ("ShareFile", ("/d-", "/d/")),
    ".egnyte.com": ("Egnyte", ("/fl/", "/dl/")),
    "www.4shared.com": ("4shared", ()),
    "jumpshare.com": ("Jumpshare", ("/v/", "/s/")),
    "send.tresorit.com": ("Tresorit", ()),
    "www.sync.com": ("Sync.com", ("/dl/",)), "ln5.sync.com": ("Sync.com", ("/dl/",)),
}

# A redirect to one of these means "sign in first" (for services not in the registry).
SIGN_IN_HOSTS = frozenset({"account.box.com"})

# Hosts people write in text without "https://".
TYPED_HOSTS = ("we.tl", "app.box.com", "wetransfer.com", "mega.nz")
