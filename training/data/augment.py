"""Training on attacked copies: the head learns what survives typos,
spacing, synonyms and deletions instead of trusting statistics an evader moves.

An attacked copy keeps its original's label and story group, so it never lands on
the other side of a split from its original; it is fitted on, and scored out of
fold, but calibration, thresholds and every headline metric use real rows only
(`LinearHead.fit(augmented=...)`). Which rows get a copy, and which attack, is a
hash of the row id and the seed, so the same settings always give the same rows.
"""
from __future__ import annotations

import hashlib
from dataclasses import replace

from fabscore.training.data.attacks import ATTACKS, Attack, select
from fabscore.training.data.examples import Example

# What `train --augment default` applies: the cheap attacks the default model lost most to.
# Sentence reordering/dropping barely moved it, the rewrites need SmolLM2 per sentence, and
# homoglyphs / invisible characters are undone by normalization.
DEFAULT_AUGMENT = ("char_typos", "char_spacing", "word_synonym", "word_delete")


def attacks_for(spec: str | tuple[str, ...] | None) -> tuple[Attack, ...]:
    """The attacks named by SPEC ('default', names, families; see attacks.select); () for none."""
    if not spec:
        return ()
    if isinstance(spec, str):
        spec = tuple(p.strip() for p in spec.split(",") if p.strip())
    if spec == ("default",):
        spec = DEFAULT_AUGMENT
    chosen = select(",".join(spec))
    slow = [a.name for a in chosen if a.slow]
    if slow:
        raise ValueError(f"attacks {', '.join(slow)} rewrite with SmolLM2 sentence by sentence and are too slow "
                         "to augment a training set; evaluate on them instead (`fabscore evaluate --attacks`)")
    return tuple(a for a in chosen if not a.undone_by_normalize)


def _unit(*parts: str) -> float:
    """A stable number in [0, 1) from the parts."""
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:12], 16) / 16 ** 12


def attacked_copies(examples: list[Example], attacks: tuple[Attack, ...], share: float, seed: int
                    ) -> list[tuple[int, Example]]:
    """(index of the original, attacked copy) for a hash-chosen `share` of the examples.

    Each chosen row gets one attack, spread evenly over `attacks`; a human row only gets
    an attack that keeps a text human-written (typos do; a synonym spinner does not), and
    no copy when there is none. The copy's id is '<id>~<attack>' and its meta names the attack."""
    out = []
    human_ok = tuple(a for a in attacks if a.keeps_human)
    for i, ex in enumerate(examples):
        if not attacks or _unit("augment", str(seed), ex.id) >= share:
            continue
        pool = attacks if ex.label == 1 else human_ok
        if not pool:
            continue
        attack = pool[int(_unit("which", str(seed), ex.id) * len(pool))]
        text = attack(ex.text, seed)
        if text == ex.text:
            continue
        out.append((i, replace(ex, id=f"{ex.id}~{attack.name}", text=text, meta={**ex.meta, "attack": attack.name})))
    return out


__all__ = ["ATTACKS", "DEFAULT_AUGMENT", "attacked_copies", "attacks_for"]
