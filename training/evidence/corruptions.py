"""FactCC-style corruptions of a source sentence (Kryscinski et al., 2020): an entity swapped
for another of the same type, a number or a date changed, a quotation's speaker swapped, a
negation added or removed; and a name swapped for another name of the *same* article (a wrong
subject: every word of the new sentence is in the source article, only who did what changed).
Each returns the new sentence and the changed characters' span.
"""
from __future__ import annotations

import re

from fabscore.evidence.claims import key_tokens
from fabscore.evidence.features import negated

TYPES = ("entity", "number", "date", "speaker", "negation", "insert", "name_same")
SWAP_LABELS = ("PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT")
_MONTHS = "january february march april may june july august september october november december".split()
_WORD_NUMBERS = "two three four five six seven eight nine ten dozen hundred thousand million billion".split()
_AUX = re.compile(r"\b(is|are|was|were|has|have|had|will|would|can|could|should|does|do|did|must)\b")
_NOT = re.compile(r"\s+not\b|n't\b")


def _replace(text: str, start: int, end: int, new: str) -> tuple[str, tuple[int, int]]:
    return text[:start] + new + text[end:], (start, start + len(new))


def change_number(text: str, c, rng) -> tuple[str, tuple[int, int]] | None:
    """A number inside a claim changed to a plausible other value (years by 1-5)."""
    m = re.search(r"\d[\d,]*(?:\.\d+)?", c.text)
    if m:
        raw = m.group().replace(",", "")
        try:
            n = float(raw)
        except ValueError:
            return None
        if 1900 <= n <= 2100 and "." not in raw:
            new = str(int(n + rng.choice([-3, -2, -1, 1, 2, 4])))
        else:
            f = rng.choice([0.5, 0.7, 1.3, 2.0, 3.0, 10.0])
            v = n * f if n else rng.integers(2, 9)
            new = f"{v:.1f}" if "." in raw else f"{int(round(v)):,}" if "," in m.group() else str(int(round(v)))
            if new == m.group():
                new = str(int(n) + 7)
        return _replace(text, c.start + m.start(), c.start + m.end(), new)
    words = c.text.lower().split()
    for w in words:
        if w in _MONTHS:
            i = c.text.lower().index(w)
            other = _MONTHS[(_MONTHS.index(w) + rng.integers(1, 12)) % 12].capitalize()
            return _replace(text, c.start + i, c.start + i + len(w), other)
        if w in _WORD_NUMBERS:
            i = c.text.lower().index(w)
            other = rng.choice([x for x in _WORD_NUMBERS if x != w])
            return _replace(text, c.start + i, c.start + i + len(w), other)
    return None


def negate(text: str) -> tuple[str, tuple[int, int]] | None:
    """Remove a negation, or add 'not' after the first auxiliary verb."""
    if negated(text):
        m = _NOT.search(text)
        return None if m is None else _replace(text, m.start(), m.end(), "")
    m = _AUX.search(text)
    return None if m is None else _replace(text, m.end(), m.end(), " not")


def swap_entity(text: str, c, pool: dict[str, list[str]], article_tokens: set[str], rng):
    others = [e for e in pool.get(c.label, []) if not set(key_tokens(e)) & article_tokens]
    if not others:
        return None
    return _replace(text, c.start, c.end, others[rng.integers(len(others))])


def corruptions(text: str, claims: list, pool: dict[str, list[str]], article_tokens: set[str], rng) -> dict:
    """{type: (corrupted text, changed span)} for every type this sentence allows."""
    out = {}
    ents = [c for c in claims if c.label in SWAP_LABELS]
    people = [c for c in claims if c.label == "PERSON"]
    has_quote = any(c.kind == "quote" for c in claims)
    if has_quote and people:
        got = swap_entity(text, people[rng.integers(len(people))], pool, article_tokens, rng)
        if got:
            out["speaker"] = got
    if ents:
        got = swap_entity(text, ents[rng.integers(len(ents))], pool, article_tokens, rng)
        if got:
            out["entity"] = got
    for kind in ("number", "date"):
        cs = [c for c in claims if c.kind == kind]
        if cs:
            got = change_number(text, cs[rng.integers(len(cs))], rng)
            if got:
                out[kind] = got
    got = negate(text)
    if got:
        out["negation"] = got
    return out


def swap_within(text: str, claims: list, others: list, rng) -> tuple[str, tuple[int, int]] | None:
    """A name of the sentence (SWAP_LABELS) replaced by another name of the same spaCy label from
    `others` (the claims of the same article, or of the sentence's evidence): one that shares no
    key token with the name it replaces and is not already wholly in the sentence, so the new
    sentence says something else about someone the source does mention."""
    names = [c for c in claims if c.label in SWAP_LABELS]
    if not names:
        return None
    c = names[rng.integers(len(names))]
    own = set(key_tokens(c.text))
    in_sentence = set(key_tokens(text))
    candidates = sorted({e.text for e in others if e.label == c.label and key_tokens(e.text)
                         and not set(key_tokens(e.text)) & own and not set(key_tokens(e.text)) <= in_sentence})
    if not candidates:
        return None
    return _replace(text, c.start, c.end, candidates[rng.integers(len(candidates))])
