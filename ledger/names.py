"""Pinyin search keys for residents' names: surnames read as surnames, rare characters kept.

Plain functions over strings (pypinyin underneath), so the keys can be tested without a
database. A name gets several keys: pypinyin's everyday reading, the surname reading where the
surname is one of the characters read differently as a surname (曾 zēng, 单 shàn, 仇 qiú), and
the reading a clerk recorded for a character pypinyin does not know (𠮷).
"""
from __future__ import annotations

import re
import unicodedata

from ground.i18n import _

#: Surnames whose reading as a surname differs from the character's everyday reading.
#: Compound surnames come first so that 单于 is not read as 单 + 于.
SURNAME_READINGS = {
    "万俟": ["mo", "qi"], "尉迟": ["yu", "chi"], "单于": ["chan", "yu"], "长孙": ["zhang", "sun"],
    "澹台": ["tan", "tai"], "令狐": ["ling", "hu"],
    "曾": ["zeng"], "单": ["shan"], "仇": ["qiu"], "解": ["xie"], "区": ["ou"], "朴": ["piao"],
    "查": ["zha"], "盖": ["ge"], "乐": ["yue"], "种": ["chong"], "员": ["yun"], "覃": ["qin"],
    "缪": ["miao"], "翟": ["zhai"], "秘": ["bi"], "折": ["she"], "尉": ["wei"], "句": ["gou"],
    "繁": ["po"], "召": ["shao"], "宿": ["su"], "隗": ["wei"], "逄": ["pang"], "冼": ["xian"],
    "厍": ["she"], "恽": ["yun"], "过": ["guo"], "黑": ["he"], "重": ["chong"], "藏": ["zang"],
    "牟": ["mou"], "莘": ["shen"], "能": ["nai"], "纪": ["ji"], "燕": ["yan"], "都": ["du"],
    "柏": ["bai"], "薄": ["bo"], "卜": ["bu"], "车": ["che"], "沈": ["shen"], "石": ["shi"],
}

#: One syllable of a recorded reading: letters only (ü written v), an optional tone digit.
_SYLLABLE = re.compile(r"^[a-zv]{1,6}[1-5]?$")
KEY_MAX = 300
INITIALS_MAX = 60


def is_han(ch: str) -> bool:
    """Say whether a character is a CJK ideograph (any block, in the BMP or beyond)."""
    return unicodedata.category(ch) == "Lo" and "CJK" in unicodedata.name(ch, "")


def unknown_characters(name: str) -> list[str]:
    """Return the ideographs in a name that pypinyin has no reading for, in order, once each."""
    from pypinyin.constants import PINYIN_DICT  # here, not above: a third of a second to load

    seen = []
    for ch in name:
        if is_han(ch) and ord(ch) not in PINYIN_DICT and ch not in seen:
            seen.append(ch)
    return seen


def parse_reading(reading: str | None, name: str) -> list[str] | None:
    """Return a recorded reading as one syllable per character, or raise ValueError saying why.

    The clerk writes the whole name's reading, syllables separated by spaces ("ji ye" for
    𠮷野); tone digits are dropped, ü may be written v.
    """
    if reading is None or not reading.strip():
        return None
    syllables = reading.strip().lower().replace("ü", "v").split()
    chars = [ch for ch in name if is_han(ch)]
    bad = [s for s in syllables if not _SYLLABLE.match(s)]
    if bad:
        raise ValueError(_("读音只能是拼音字母，每个字一个音节，以空格分开（“%(bad)s”不是拼音）", bad=bad[0]))
    if len(syllables) != len(chars):
        raise ValueError(_("读音须有 %(n)s 个音节（每个汉字一个），现有 %(given)s 个", n=len(chars),
                           given=len(syllables)))
    return [s.rstrip("12345") for s in syllables]


def _syllables(name: str) -> list[str]:
    from pypinyin import lazy_pinyin  # here, not above: a third of a second to load

    # Unknown characters come back as themselves, so the list stays aligned with the name.
    return [s.lower() for s in lazy_pinyin(name, errors=lambda chars: list(chars))]


def _readings(name: str, recorded: list[str] | None) -> list[list[str]]:
    everyday = _syllables(name)
    readings = [everyday]
    for surname, sounds in SURNAME_READINGS.items():
        if name.startswith(surname):
            readings.insert(0, sounds + everyday[len(surname):])
            break
    if recorded:
        # Spread the recorded syllables over the Han characters, leaving other marks (·) alone.
        spread, it = [], iter(recorded)
        for ch, sound in zip(name, everyday):
            spread.append(next(it) if is_han(ch) else sound)
        readings.insert(0, spread)
    return readings


def search_keys(name: str, reading: str | None = None) -> dict[str, str]:
    """Return a name's search keys: full pinyin and initials, each several, space-separated.

    Marks that are not letters (the · in 阿依古丽·买买提) are left out of the keys; a
    character with no known reading stays in them as itself.
    """
    recorded = parse_reading(reading, name) if reading else None
    full, initials = [], []
    for syllables in _readings(name, recorded):
        parts = [s for s in syllables if s.isalnum()]
        key = "".join(parts)
        first = "".join(s[0] for s in parts)
        if key and key not in full:
            full.append(key)
        if first and first not in initials:
            initials.append(first)
    return {"pinyin": _fit(full, KEY_MAX), "initials": _fit(initials, INITIALS_MAX)}


def _fit(keys: list[str], limit: int) -> str:
    out = ""
    for key in keys:
        candidate = f"{out} {key}" if out else key
        if len(candidate) > limit:
            break
        out = candidate
    return out or (keys[0][:limit] if keys else "")


def normalize_query(q: str) -> str:
    """Return what a search box held, ready to compare with the keys: lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", q or "")).lower()
