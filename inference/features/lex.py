"""Lexical habits of chat-model rewording, from the normalized text alone (feature kind `lex`).

LLM_WORDS are words whose use rose sharply once chat models wrote text, taken from published
frequency studies of scientific writing (Kobak et al. 2024, "Delving into ChatGPT usage in
academic writing through excess vocabulary"; Liang et al. 2024, "Mapping the increasing use of
LLMs in scientific papers") plus the connectives chat rewrites favour, fixed before any of this
project's data was looked at and matched as word prefixes. Beside them: contractions,
parentheses, first- and second-person words, exclamations and questions, and sentences that
open with a connective.
"""
from __future__ import annotations

import re

import numpy as np

LLM_WORDS = ("delv", "showcas", "underscor", "intricat", "pivotal", "realm", "meticulous", "comprehensiv",
             "crucial", "notabl", "additionally", "furthermore", "moreover", "enhanc", "foster", "leverag",
             "utiliz", "facilitat", "multifacet", "nuanc", "vital", "robust", "seamless", "innovativ",
             "landscape", "navigat", "emphasiz", "highlight", "ensur", "garner", "commendabl", "elevat",
             "invaluabl", "paramount", "profound", "resonat", "testament", "tapestry", "vibrant", "bolster",
             "streamlin", "unveil", "encompass", "endeavor", "insight", "significant", "various", "overall")
LEX_FEATURES = ("lex_llm_words", "lex_contractions", "lex_parens", "lex_person", "lex_exclaim_question",
                "lex_sentence_initial_connective")
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_CONTRACTION = re.compile(r"(n't|'re|'ve|'ll|'m|'d)\b", re.I)
_PERSON = frozenset("i me my mine we us our ours you your yours".split())
_CONNECTIVES = frozenset("additionally furthermore moreover however overall ultimately consequently thus".split())


def aggregate(norm: str, sentences: list[str]) -> np.ndarray:
    """LEX_FEATURES of a normalized text and its sentences (per word, or per sentence)."""
    words = [w.lower() for w in _WORD.findall(norm)]
    n = max(len(words), 1)
    openers = [(_WORD.findall(s) or [""])[0].lower() for s in sentences]
    return np.array([
        sum(w.startswith(LLM_WORDS) for w in words) / n,
        len(_CONTRACTION.findall(norm)) / n,
        norm.count("(") / n,
        sum(w in _PERSON for w in words) / n,
        (norm.count("!") + norm.count("?")) / max(len(sentences), 1),
        sum(s in _CONNECTIVES for s in openers) / max(len(sentences), 1),
    ], dtype=np.float64)
