"""The verdicts a fact-checker acts on: a status per sentence, a verdict per claim.

Sentence `status`, the first that applies:
  no_evidence   the best retrieved cosine is below the relevance cut: nothing indexed is about it;
  contradicted  a claim is `conflicting`, or a retrieved evidence sentence restates the sentence
                (at least NEGATION_ALIGN of its content words, negators aside) with the opposite
                negation;
  supported     the consistency head's support >= SUPPORT_CUT and no claim is `absent` or `conflicting`;
  unverified    otherwise: relevant evidence exists, but it does not say this.
`judge` decides both for one sentence; every caller (scoring, `fabscore check`, the evaluator)
goes through it, so these rules and the cuts below are stated here only.

Claim `verdict` (names, numbers, dates, quotations; key tokens as claims.key_tokens):
  conflicting   an evidence sentence is *aligned* with the checked sentence (it holds at least
                ALIGN_OVERLAP of the sentence's content words outside the claim), no aligned
                sentence contains the claim, and the first aligned one holds, in the same place (a
                word beside it in common, CONTEXT_WORDS on each side), a value of the same group
                that the checked sentence lacks: the evidence says the same thing about another
                person, place, number or date. Numbers and dates with digits are one group (spaCy
                calls the same value CARDINAL in one sentence and DATE in its edited copy);
  absent        its key tokens (a quotation: QUOTE_MIN_SHARE of them) occur nowhere in the whole
                articles the retrieved evidence sentences belong to;
  backed        otherwise.
So a name the evidence articles contain is never `absent`, whatever its sentence's support: it can
only be `conflicting`, which takes an aligned evidence sentence naming someone else in its place.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fabscore.evidence.claims import QUOTE_MIN_SHARE, Claim, key_tokens
from fabscore.evidence.features import content_tokens, negated

SUPPORT_CUT = 0.5  # a calibrated probability: supported at even odds or better
ALIGN_OVERLAP = 0.6  # share of a sentence's other content words an evidence sentence must hold to restate it
NEGATION_ALIGN = 0.8  # ... and to count as restating it with the opposite negation
STATUSES = ("supported", "contradicted", "unverified", "no_evidence")
VERDICTS = ("backed", "absent", "conflicting")
MARKED = ("absent", "conflicting")  # the verdicts a reader must look at
NUMBER_LABELS = frozenset({"CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL"})
DATE_LABELS = frozenset({"DATE", "TIME"})
NEGATORS = frozenset({"not", "never", "none", "nobody", "nothing", "neither", "nor", "without", "no"})
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")


def digit_claims(text: str, claims: Sequence[Claim]) -> list[Claim]:
    """The claims plus a number claim for every digit group no claim covers: spaCy misses numbers
    glued to words and those of headlines and captions ("4 / 18:")."""
    out = list(claims)
    for m in _DIGITS.finditer(text):
        if not any(c.start <= m.start() < c.end for c in claims):
            out.append(Claim(m.start(), m.end(), m.group(), "number", "CARDINAL"))
    return sorted(out, key=lambda c: (c.start, c.end))


def group(claim: Claim) -> str:
    """What a claim can conflict with: any number or date with digits ("numeric"), number words,
    date words, else claims of the same spaCy label (a person with a person, a place with a place)."""
    if _DIGITS.search(claim.text):
        return "numeric"
    if claim.label in NUMBER_LABELS:
        return "number"
    if claim.label in DATE_LABELS:
        return "date"
    return claim.label


def found(claim: Claim, tokens: set[str]) -> bool:
    """Its key tokens are all in `tokens` (a quotation: QUOTE_MIN_SHARE of them); a claim with none
    (\"the\", \"one\") has nothing to check and is found."""
    toks = key_tokens(claim.text)
    if not toks:
        return True
    hit = sum(t in tokens for t in toks)
    return hit >= QUOTE_MIN_SHARE * len(toks) if claim.kind == "quote" else hit == len(toks)


def aligned(sentence: str, claim: Claim, evidence_tokens: set[str]) -> bool:
    """The evidence sentence restates the checked sentence apart from the claim."""
    rest = content_tokens(sentence[:claim.start] + " " + sentence[claim.end:])
    return bool(rest) and len(rest & evidence_tokens) / len(rest) >= ALIGN_OVERLAP


@dataclass(frozen=True)
class ClaimVerdict:
    claim: Claim
    verdict: str  # one of VERDICTS
    evidence_value: str | None = None  # what the aligned evidence says instead, when conflicting
    at: int | None = None  # ... in which of the retrieved evidence sentences (its position)


@dataclass(frozen=True)
class Pending:
    """A claim whose verdict waits for the claims of one evidence sentence (the first aligned one):
    extracting claims is the rules' main cost, so it is done only for these, batched."""

    claim: Claim
    evidence: int  # position among the retrieved evidence sentences


def first_pass(sentence: str, claims: Sequence[Claim], evidence_tokens: Sequence[set[str]],
               article_tokens: set[str]) -> list[ClaimVerdict | Pending]:
    """Each claim's verdict where the words decide it; a Pending where it may be conflicting.
    evidence_tokens: key tokens of the retrieved evidence sentences, best first; article_tokens:
    key tokens of the whole articles they belong to."""
    out: list[ClaimVerdict | Pending] = []
    for c in claims:
        al = [] if c.kind == "quote" else [i for i, ev in enumerate(evidence_tokens) if aligned(sentence, c, ev)]
        if al and not any(found(c, evidence_tokens[i]) for i in al):
            out.append(Pending(c, al[0]))
        else:
            out.append(ClaimVerdict(c, "backed" if found(c, article_tokens) else "absent"))
    return out


CONTEXT_WORDS = 2  # key tokens on each side of a claim that place it in its sentence


def context(text: str, start: int, end: int) -> set[str]:
    """The CONTEXT_WORDS key tokens before and after text[start:end]: where a value sits in its sentence."""
    return set(key_tokens(text[:start])[-CONTEXT_WORDS:] + key_tokens(text[end:])[:CONTEXT_WORDS])


def settle(sentence: str, pending: Pending, evidence_text: str, evidence_claims: Sequence[Claim],
           article_tokens: set[str]) -> ClaimVerdict:
    """The verdict of a pending claim, given the claims of its first aligned evidence sentence: a rival
    value must also sit where the claim sits (a word beside it in common), else it is another fact."""
    c = pending.claim
    own = set(key_tokens(sentence))
    g = group(c)
    where = context(sentence, c.start, c.end)
    rivals = [e for e in digit_claims(evidence_text, evidence_claims)
              if group(e) == g and key_tokens(e.text) and not set(key_tokens(e.text)) <= own
              and where & context(evidence_text, e.start, e.end)]
    if rivals:
        return ClaimVerdict(c, "conflicting", rivals[0].text, pending.evidence)
    return ClaimVerdict(c, "backed" if found(c, article_tokens) else "absent")


def negation_flip(sentence: str, evidence_tokens: Sequence[set[str]], evidence_texts: Sequence[str]) -> int | None:
    """The position of the first evidence sentence that restates the sentence (NEGATION_ALIGN of its
    content words, negators aside) when it is negated where the sentence is not, or the other way
    round; None when the first restating sentence agrees, or none restates it."""
    words = content_tokens(sentence) - NEGATORS
    if not words:
        return None
    for i, (toks, text) in enumerate(zip(evidence_tokens, evidence_texts)):
        if len(words & toks) / len(words) >= NEGATION_ALIGN:
            return i if negated(sentence) != negated(text) else None
    return None


def claim_status(statuses: Sequence[str]) -> str | None:
    """A whole claim's status from its sentences': contradicted if one is, no_evidence if all are,
    supported if all are, else unverified (part of it is not backed). None with no sentence."""
    statuses = [s for s in statuses if s]
    if not statuses:
        return None
    if "contradicted" in statuses:
        return "contradicted"
    if all(s == "no_evidence" for s in statuses):
        return "no_evidence"
    return "supported" if all(s == "supported" for s in statuses) else "unverified"


def status(relevant: bool, support: float | None, verdicts: Sequence[ClaimVerdict], flip: bool = False) -> str:
    """The sentence's status (see the module docstring)."""
    if not relevant:
        return "no_evidence"
    if flip or any(v.verdict == "conflicting" for v in verdicts):
        return "contradicted"
    if support is not None and support >= SUPPORT_CUT and not any(v.verdict in MARKED for v in verdicts):
        return "supported"
    return "unverified"


@dataclass(frozen=True)
class Judgement:
    """One sentence judged: its status, each claim's verdict, and the evidence sentence (position
    among the retrieved) that restates it with the opposite negation, if any."""

    status: str  # one of STATUSES
    claims: list[ClaimVerdict]  # verdict None (unchecked) with no_evidence
    negation_at: int | None = None


def judge(sentence: str, claims: Sequence[Claim], support: float | None, relevant: bool,
          evidence_texts: Sequence[str], evidence_tokens: Sequence[set[str]], article_tokens: set[str],
          evidence_claims: Callable[[int], Sequence[Claim]]) -> Judgement:
    """The status and claim verdicts of a sentence (see the module docstring).

    claims: spaCy's claims of the sentence (digit groups it missed are added here); support: the
    consistency head's calibrated probability; relevant: its best evidence reaches the relevance
    cut; evidence_texts / evidence_tokens: the retrieved evidence sentences, best first, and their
    key tokens; article_tokens: key tokens of the whole articles they belong to; evidence_claims(i):
    spaCy's claims of evidence sentence i, asked for only where a claim may conflict."""
    claims = digit_claims(sentence, claims)
    if not relevant:
        return Judgement("no_evidence", [ClaimVerdict(c, None) for c in claims])
    verdicts = [settle(sentence, p, evidence_texts[p.evidence], evidence_claims(p.evidence), article_tokens)
                if isinstance(p, Pending) else p
                for p in first_pass(sentence, claims, evidence_tokens, article_tokens)]
    flip = negation_flip(sentence, evidence_tokens, evidence_texts)
    return Judgement(status(True, support, verdicts, flip is not None), verdicts, flip)
