"""Reference captions, English and Korean, generated from a scene's groups of objects.

Each scene gets five different sentences built from templates that say what is there (nouns,
counts, colours, liquids), where (on the table, left of, next to, left to right) and nothing
the image does not show. Every sentence names every group, so a visible knife is always
mentioned. The vocabulary is small on purpose: a small CNN+GRU can learn to say it.
"""

from __future__ import annotations

from perception_training.synthetic.scene import Scene
from perception_training.synthetic.scene_graph import NEXT_TO_GAP, Group, groups_of, horizontal_gap, third

LANGUAGES: tuple[str, ...] = ("en", "ko")
N_REFERENCES = 5

# Templates per case: "T" table objects only, "P" people only, "PT" both. The third of each
# list is replaced by a spatial sentence.
_EN_TEMPLATES = {
    "T": (
        "{T} on the table.",
        "There {T_be} {T} on the table.",
        None,
        "A table with {T}.",
        "A photo of {T} on a table.",
    ),
    "P": (
        "{P} standing in a room.",
        "There {P_be} {P} in the room.",
        None,
        "A room with {P}.",
        "A photo of {P}.",
    ),
    "PT": (
        "{P} next to a table with {T}.",
        "There {T_be} {T} on the table and {P} nearby.",
        None,
        "A table with {T} and {P} standing nearby.",
        "A photo of {P} and {T} on a table.",
    ),
    "": (
        "An empty table.",
        "There is nothing on the table.",
        "A table with nothing on it.",
        "A photo of an empty table.",
        "An empty room with a table.",
    ),
}
_KO_TEMPLATES = {
    "T": (
        "탁자 위에 {T_i} 있다.",
        "{T_i} 탁자 위에 놓여 있다.",
        None,
        "탁자 위에 {T_i} 보인다.",
        "{T_i} 놓인 탁자 사진이다.",
    ),
    "P": ("{P_i} 방에 서 있다.", "방 안에 {P_i} 있다.", None, "{P_i} 보인다.", "{P_i} 서 있는 방 사진이다."),
    "PT": (
        "{P_i} {T_i} 놓인 탁자 옆에 서 있다.",
        "탁자 위에 {T_i} 있고 그 옆에 {P_i} 서 있다.",
        None,
        "탁자 위에 {T_i} 보이고 {P_i} 서 있다.",
        "{P_wa} 탁자 위의 {T_i} 보이는 사진이다.",
    ),
    "": (
        "빈 탁자가 있다.",
        "탁자 위에 아무것도 없다.",
        "아무것도 놓이지 않은 탁자이다.",
        "빈 탁자 사진이다.",
        "탁자가 있는 빈 방이다.",
    ),
}

# ---------------------------------------------------------------- English
_EN_SINGULAR = {
    "person": "person",
    "bottle": "bottle",
    "wine_glass": "wine glass",
    "cup": "cup",
    "beer_glass": "beer glass",
    "soju_glass": "soju glass",
    "knife": "knife",
}
_EN_PLURAL = {
    "person": "people",
    "bottle": "bottles",
    "wine_glass": "wine glasses",
    "cup": "cups",
    "beer_glass": "beer glasses",
    "soju_glass": "soju glasses",
    "knife": "knives",
}
_EN_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _en_phrase(group: Group) -> str:
    one = group.count == 1
    if group.liquid and group.liquid != "empty":
        words = ["glass of" if one else "glasses of", group.liquid]
    elif group.noun == "person" and group.color:
        words = [f"person in a {group.color} shirt" if one else f"people in {group.color} shirts"]
    else:
        adjective = "empty" if group.liquid == "empty" else group.color if group.noun != "person" else None
        words = [w for w in (adjective, (_EN_SINGULAR if one else _EN_PLURAL)[group.noun]) if w]
    if one:
        return ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)
    return " ".join([_EN_NUMBERS.get(group.count, str(group.count)), *words])


def _en_list(groups: list[Group]) -> str:
    phrases = [_en_phrase(g) for g in groups]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _en_spatial(people: list[Group], table: list[Group], width: int) -> str:
    if people and table:
        person, stuff = people[0], _en_list(table)
        if min(horizontal_gap(person, g) for g in table) < NEXT_TO_GAP * width:
            return f"{_en_list(people)} standing next to {stuff}."
        side = "left" if person.center_x < sum(g.center_x for g in table) / len(table) else "right"
        return f"{_en_list(people)} standing to the {side} of {stuff}."
    groups, place = (table, "the table") if table else (people, "the picture")
    if len(groups) == 1:
        where = third(groups[0].center_x, width)
        return (
            f"{_en_list(groups)} "
            + ("in the middle of " if where == "middle" else f"on the {where} side of ")
            + f"{place}."
        )
    ordered = sorted(groups, key=lambda g: g.center_x)
    if len(ordered) == 2:
        relation = "next to" if horizontal_gap(*ordered) < NEXT_TO_GAP * width else "to the left of"
        return f"{_en_phrase(ordered[0])} {relation} {_en_phrase(ordered[1])}."
    return f"{_en_list(ordered)} from left to right."


def _en_fields(people: list[Group], table: list[Group]) -> dict[str, str]:
    def be(groups: list[Group]) -> str:
        return "is" if groups and groups[0].count == 1 else "are"

    return {
        "T": _en_list(table) if table else "",
        "P": _en_list(people) if people else "",
        "T_be": be(table),
        "P_be": be(people),
    }


# ---------------------------------------------------------------- Korean
_KO_NOUNS = {
    "person": "사람",
    "bottle": "병",
    "wine_glass": "와인잔",
    "cup": "컵",
    "beer_glass": "맥주잔",
    "soju_glass": "소주잔",
    "knife": "칼",
}
_KO_COLORS = {
    "red": "빨간",
    "orange": "주황색",
    "yellow": "노란",
    "green": "초록색",
    "blue": "파란",
    "purple": "보라색",
    "pink": "분홍색",
    "brown": "갈색",
    "black": "검은",
    "white": "흰",
    "gray": "회색",
    "clear": "투명한",
}
_KO_NUMBERS = {1: "한", 2: "두", 3: "세", 4: "네", 5: "다섯", 6: "여섯", 7: "일곱", 8: "여덟"}
_KO_LIQUIDS = {"beer": "맥주", "red wine": "레드 와인", "white wine": "화이트 와인"}
_SIDES_KO = {"left": "왼쪽", "middle": "가운데", "right": "오른쪽"}


def josa(word: str, with_batchim: str, without: str) -> str:
    """``word`` plus the particle form its last syllable needs (이/가, 과/와, 은/는 ...)."""
    last = word[-1]
    has_batchim = "가" <= last <= "힣" and (ord(last) - ord("가")) % 28 != 0
    return word + (with_batchim if has_batchim else without)


def _ko_phrase(group: Group) -> str:
    number = _KO_NUMBERS.get(group.count, str(group.count))
    if group.liquid and group.liquid != "empty":
        return f"{_KO_LIQUIDS[group.liquid]} {number} 잔"
    noun = _KO_NOUNS[group.noun]
    if group.noun == "person" and group.color:
        noun = f"{_KO_COLORS[group.color]} 옷을 입은 사람"
    elif group.liquid == "empty":
        noun = f"빈 {noun}"
    elif group.color:
        noun = f"{_KO_COLORS[group.color]} {noun}"
    if group.count == 1:
        return noun
    return f"{noun} {number} {'명' if group.noun == 'person' else '개'}"


def _ko_list(groups: list[Group]) -> str:
    phrases = [_ko_phrase(g) for g in groups]
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join([*phrases[:-2], josa(phrases[-2], "과", "와")]) + " " + phrases[-1]


def _ko_spatial(people: list[Group], table: list[Group], width: int) -> str:
    if people and table:
        person, stuff = josa(_ko_list(people), "이", "가"), _ko_list(table)
        if min(horizontal_gap(people[0], g) for g in table) < NEXT_TO_GAP * width:
            return f"{person} {stuff} 옆에 서 있다."
        side = "왼쪽" if people[0].center_x < sum(g.center_x for g in table) / len(table) else "오른쪽"
        return f"{person} {stuff}의 {side}에 서 있다."
    if len(table or people) == 1:
        where = _SIDES_KO[third((table or people)[0].center_x, width)]
        if table:
            return f"탁자 {where}에 {josa(_ko_list(table), '이', '가')} 있다."
        return f"사진 {where}에 {josa(_ko_list(people), '이', '가')} 서 있다."
    ordered = sorted(table, key=lambda g: g.center_x)
    if len(ordered) == 2:
        left, right = _ko_phrase(ordered[0]), josa(_ko_phrase(ordered[1]), "이", "가")
        if horizontal_gap(*ordered) < NEXT_TO_GAP * width:
            return f"{left} 옆에 {right} 있다."
        return f"{josa(left, '이', '가')} {_ko_phrase(ordered[1])}의 왼쪽에 있다."
    items = [_ko_phrase(g) for g in ordered]
    return f"왼쪽부터 {', '.join(items[:-1])}, {josa(items[-1], '이', '가')} 차례로 놓여 있다."


def _ko_fields(people: list[Group], table: list[Group]) -> dict[str, str]:
    t, p = (_ko_list(table) if table else ""), (_ko_list(people) if people else "")
    return {
        "T_i": josa(t, "이", "가") if t else "",
        "P_i": josa(p, "이", "가") if p else "",
        "P_wa": josa(p, "과", "와") if p else "",
    }


_LANGUAGE = {
    "en": (_EN_TEMPLATES, _en_fields, _en_spatial),
    "ko": (_KO_TEMPLATES, _ko_fields, _ko_spatial),
}


def captions(scene: Scene, language: str = "en") -> list[str]:
    """Five different reference captions of ``scene`` in ``language`` ("en" or "ko")."""
    if language not in _LANGUAGE:
        raise ValueError(f"unknown caption language {language!r}; choose one of {LANGUAGES}")
    templates, fields, spatial = _LANGUAGE[language]
    groups = groups_of(scene)
    people, table = [g for g in groups if not g.on_table], [g for g in groups if g.on_table]
    case = ("P" if people else "") + ("T" if table else "")
    values = fields(people, table) if case else {}
    width = scene.image.shape[1]
    sentences = [
        spatial(people, table, width) if template is None else template.format(**values)
        for template in templates[case]
    ]
    return [s[0].upper() + s[1:] for s in sentences]
