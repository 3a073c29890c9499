"""Pinyin search keys: surnames read as surnames, rare characters kept, recorded readings used."""
from __future__ import annotations

import pytest

from ledger.names import parse_reading, search_keys, unknown_characters


@pytest.mark.parametrize("name, full, initials", [
    ("张三", "zhangsan", "zs"),
    ("曾国藩", "zengguofan", "zgf"),      # 曾 as a surname is zēng, not céng
    ("单田芳", "shantianfang", "stf"),     # 单 as a surname is shàn, not dān
    ("仇英", "qiuying", "qy"),             # 仇 as a surname is qiú, not chóu
    ("长孙无忌", "zhangsunwuji", "zswj"),
    ("王䶮", "wangyan", "wy"),             # CJK Extension A
    ("李𪚥", "lizhe", "lz"),               # Extension B, outside the BMP
    ("张𬌗", "zhanghe", "zh"),             # Extension E
    ("阿依古丽·买买提", "ayigulimaimaiti", "ayglmmt"),
])
def test_a_name_is_found_by_its_full_pinyin_and_initials(name, full, initials):
    keys = search_keys(name)
    assert full in keys["pinyin"].split()
    assert initials in keys["initials"].split()


def test_a_polyphonic_surname_keeps_the_everyday_reading_as_a_second_key():
    keys = search_keys("曾三")
    assert keys["pinyin"].split() == ["zengsan", "cengsan"]
    assert keys["initials"].split() == ["zs", "cs"]


def test_a_character_without_a_known_reading_stays_itself_until_a_clerk_records_one():
    assert unknown_characters("𠮷野") == ["𠮷"]
    assert search_keys("𠮷野") == {"pinyin": "𠮷ye", "initials": "𠮷y"}
    keys = search_keys("𠮷野", "ji2 ye3")
    assert keys["pinyin"].split()[0] == "jiye" and keys["initials"].split()[0] == "jy"


@pytest.mark.parametrize("reading, why", [
    ("ji", "须有 2 个音节"),
    ("ji ye ye", "须有 2 个音节"),
    ("ji 野", "不是拼音"),
])
def test_a_recorded_reading_needs_one_pinyin_syllable_per_character(reading, why):
    with pytest.raises(ValueError, match=why):
        parse_reading(reading, "𠮷野")
