"""Is this English? The detector was trained on English news only, so for
anything else it abstains rather than guess."""
from __future__ import annotations

import re

STOPWORDS = frozenset("""the of and to a in is that for it on was with as he she be by at are this have from or
an they his her not but which had were has been their its would we you will there one all so more said
who what when than also about can after into up out if no them our new these those other some over""".split())
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def english_reason(text: str, min_stop_frac: float = 0.12, min_latin_frac: float = 0.8) -> str | None:
    """None for English text, else the reason it is taken for another language."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "no letters: not English prose"
    latin = sum(c < "\u0250" for c in letters) / len(letters)
    if latin < min_latin_frac:
        return f"not English: only {latin:.0%} of letters are Latin script"
    words = [w.lower() for w in _WORD.findall(text)]
    stop = sum(w in STOPWORDS for w in words) / max(len(words), 1)
    if stop < min_stop_frac:
        return f"not English: {stop:.0%} of words are common English words (at least {min_stop_frac:.0%} expected)"
    return None
