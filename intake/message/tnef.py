"""Outlook's winmail.dat (TNEF): bounded, sanity-checked before tnefparse reads it."""

from __future__ import annotations

TNEF_MAGIC = b"\x78\x9f\x3e\x22"


TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}


# tnefparse trusts the counts in MAPI property lists and loops over them (a crafted count of 2**32
# hangs it), so each property list is checked against its own length before tnefparse sees it.
TNEF_MAPI_LISTS = {0x9003, 0x9005}  # attMAPIProps, attAttachment


TNEF_DROPPED = {0x9004, 0x0006, 0x0007, 0x8005, 0x8006, 0x8012, 0x8013, 0x8020}  # recipients, dates: unused


MAPI_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8,
                    0x0014: 8, 0x0040: 8, 0x0048: 16, 0x0001: 0}


MAPI_VARIABLE = {0x0000, 0x000D, 0x001E, 0x001F, 0x0102}


IMESSAGE_SIG = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"


def _mapi_list_is_sane(data: bytes) -> bool:
    """Whether every count in a MAPI property list fits in the bytes that follow it."""
    def u32(at: int) -> int:
        return int.from_bytes(data[at:at + 4], "little") if at + 4 <= len(data) else -1

    count, at = u32(0), 4
    if count < 0 or count > len(data) // 4:
        return False
    for _ in range(count):
        if at + 4 > len(data):
            return True  # tnefparse skips what is missing
        prop_type, prop_name = int.from_bytes(data[at:at + 2], "little"), int.from_bytes(data[at + 2:at + 4], "little")
        at += 4
        if prop_name >= 0x8000:  # named property: GUID, kind, id or name
            kind = u32(at + 16)
            at += 20
            if kind == 0:
                at += 4
            else:
                length = u32(at)
                if length < 0 or length > len(data):
                    return False
                at += 4 + length + (-length % 4)
        multi = bool(prop_type & 0x1000)
        prop_type &= ~0x1000
        values = 1
        if multi:
            values = u32(at)
            at += 4
            if values < 0 or values > len(data):
                return False
        if prop_type in MAPI_FIXED_SIZES:
            size = values * MAPI_FIXED_SIZES[prop_type]
            if at + size > len(data):
                return False
            at += size + (2 if values % 2 and prop_type in (0x0002, 0x000B) else 0)
        elif prop_type in MAPI_VARIABLE:
            if values > (len(data) - at) // 4:
                return False
            for _ in range(values):
                items = 1
                if not multi:  # a single value still carries its own count of items
                    items = u32(at)
                    at += 4
                if items < 0 or items > (len(data) - at) // 4:
                    return False
                for _ in range(items):
                    length = u32(at)
                    if length < 0 or at + 4 + length > len(data):
                        return False
                    if prop_type == 0x000D and data[at + 4:at + 20] == IMESSAGE_SIG:
                        return False  # an attached Outlook message: tnefparse would parse it unchecked
                    at += 4 + length + (-length % 4)
        else:
            return True  # tnefparse stops at an unknown type
        if at > len(data):
            return True
    return True


def tnef_bounded(data: bytes, defects: list[str], where: str) -> bytes:
    """The TNEF stream without attributes we do not need and without property lists that lie."""
    out = bytearray(data[:6])
    offset = 6
    while offset + 12 < len(data):
        name = int.from_bytes(data[offset + 1:offset + 3], "little")
        length = min(len(data) - offset, int.from_bytes(data[offset + 5:offset + 9], "little") + 11)
        obj = data[offset:offset + length]
        offset += length
        if name in TNEF_DROPPED:
            continue
        if name in TNEF_MAPI_LISTS and not _mapi_list_is_sane(obj[9:-2]):
            defects.append(f"{where}winmail.dat property list skipped (inconsistent counts or an attached message)")
            continue
        out += obj
    return bytes(out)
