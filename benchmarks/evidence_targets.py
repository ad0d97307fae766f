"""Evidence mode's targets, measured: every one, met or not.

    .venv/bin/python benchmarks/evidence_targets.py [--real-pool 10000] [--out benchmarks/evidence_targets.json]
    .venv/bin/python benchmarks/evidence_targets.py --quick --out /tmp/evidence_targets.json   # checks that it runs

- `heldout` (as `fabscore evaluate --evidence`): per corruption type (the same-article name swap
  included) the AUROC of support and what the records say (statuses, the changed claim's verdict);
  natural rewrites' AUROC; claim recall and precision; QAGS-CNNDM (sentence AUROC, summary Spearman,
  the naive word-share baseline); Climate-FEVER (SUPPORTS vs REFUTES AUROC, 3-way macro-F1);
- `seeds`: seed 002 against seed 000 (every invented specific marked absent or conflicting, none
  of the names seed 000 has), seed 000 against itself (all supported) and against 50 unrelated
  usnews articles (all no_evidence);
- `claims`: a 200-article index (every usnews_mar2023 human article, the stories the claims are
  about, then other llmfake human articles): short hand-written claims, each stated correctly
  (should be supported) and falsely (should be contradicted or unverified); and single-number
  edits of indexed sentences (change_number, as the corruptions make them), checked one by one:
  the share never `supported`, the share whose changed number is `conflicting`;
- indexing throughput (split + MiniLM) against MiniLM's bare passes over the same sentences;
- scoring time with and without evidence and where the evidence time goes (encoding, search,
  the sentences' claims, the pair features, the claims of aligned evidence sentences, the
  reference articles' words, the rest: verdict rules, head, records), with a real pool of --pool
  articles, the search of a 10,000-article pool substituted from a synthetic index (an
  extrapolation, said so in the JSON); peak RSS of the process holding the detector and that index;
- with --real-pool N (10,000 for the target): a real pool of N articles from ../shared/data
  (every human news article first, then machine news, then other prose), indexed by `fabscore
  index` in a child process (timed; its peak RSS read from /proc), loaded, and scoring timed with
  and without it as evidence: measured, not extrapolated; then a very long article (--long-words)
  checked against it in a fresh child process: its peak RSS. The pool is written under --workdir
  (never into the repository) and reused when there.
Numbers are printed and written as JSON; nothing is asserted.

`--quick`: 8 held-out stories and 12 human-labelled items, the seed checks against 5 unrelated
articles, a 20-article index for the claims and 10 number edits, 2 articles scored, a pool of 10, a
synthetic "10,000-article" index of 2 sentences per article.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import common
import numpy as np
from common import REPO, SHARED, GiB, peak_rss


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (SHARED / name).open()]


def indexing(texts: list[str]) -> dict:
    import torch

    from fabscore.evidence.claims import extract, load_nlp
    from fabscore.evidence.index import build_from_texts, sentences_of
    from fabscore.features.embed import encode_texts
    from fabscore.models.backbones import load_minilm
    from fabscore.text.normalize import normalize

    tok, model = load_minilm(torch.float32)
    encode_texts(["warm up"], tok, model)
    load_nlp()
    t = time.perf_counter()
    index = build_from_texts(texts)
    t_index = time.perf_counter() - t
    sents = [normalize(s.text) for s in index.sentences]
    t = time.perf_counter()
    encode_texts(sents, tok, model)
    t_bare = time.perf_counter() - t
    t = time.perf_counter()
    extract([s.text for s in index.sentences])
    t_claims = time.perf_counter() - t
    t = time.perf_counter()
    for x in texts:
        sentences_of("", "", x)
    t_split = time.perf_counter() - t
    n = len(index)
    return {"articles": len(texts), "sentences": n, "index_s": round(t_index, 2), "bare_minilm_s": round(t_bare, 2),
            "claims_spacy_s": round(t_claims, 2), "split_s": round(t_split, 2),
            "index_sentences_per_s": round(n / t_index, 1), "bare_sentences_per_s": round(n / t_bare, 1),
            "index_over_bare": round(t_bare / t_index, 3),
            "index_with_claims_over_bare": round(t_bare / (t_index + t_claims), 3),
            "note": "fabscore index does not extract claims (they are extracted from the checked article at "
                    "scoring time); index_with_claims_over_bare is what it would be if it did"}, index


def synthetic_index(n: int, n_articles: int = 10_000, block: int = 16_384):
    """An index of n random unit vectors and news-length sentence texts from n_articles
    articles, held as a loaded index holds them (float16 vectors, a SentenceTable), built
    without an intermediate that would count in the peak (a float32 array of all the
    vectors, a list of sentence records)."""
    from fabscore.evidence.index import EvidenceIndex
    from fabscore.evidence.table import SentenceTable

    rng = np.random.default_rng(0)
    v = np.empty((n, 384), np.float16)
    for b in range(0, n, block):
        x = rng.standard_normal((min(block, n - b), 384), dtype=np.float32)
        v[b:b + len(x)] = x / np.linalg.norm(x, axis=1, keepdims=True)
    filler = "x" * 120  # sentence texts of a news sentence's length: they are part of the memory
    texts = [f"{i:>9} {filler}" for i in range(n)]
    article = np.arange(n, dtype=np.int64) * n_articles // n
    table = SentenceTable(["synthetic.jsonl"] * n_articles, [str(a) for a in range(n_articles)], article,
                          np.zeros(n), np.full(n, 130), texts)
    return EvidenceIndex(table, v)


class Parts:
    """Where evidence mode's time goes: the functions of fabscore.evidence.annotate timed while
    they run (patched for the duration of a `with`), in seconds."""

    def __init__(self, index):
        self.index = index
        self.s = {"encode": 0.0, "search": 0.0, "claims": 0.0, "features": 0.0, "evidence_claims": 0.0,
                  "article_words": 0.0}

    def _timed(self, name, fn, minus: str | None = None):
        def run(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                dt = time.perf_counter() - t0
                self.s[name] += dt
                if minus:
                    self.s[minus] -= dt  # evidence_claims calls extract too: counted once, here
        return run

    def __enter__(self):
        from fabscore.evidence import annotate as ann

        self.saved = (ann.encode, ann.extract, ann.pair_features, ann.EvidenceCheck.evidence_claims,
                      ann.EvidenceCheck.article_tokens)
        ann.encode = self._timed("encode", self.saved[0])
        ann.extract = self._timed("claims", self.saved[1])
        ann.pair_features = self._timed("features", self.saved[2])
        ann.EvidenceCheck.evidence_claims = self._timed("evidence_claims", self.saved[3], minus="claims")
        ann.EvidenceCheck.article_tokens = self._timed("article_words", self.saved[4])
        self.index.search = self._timed("search", self.index.search)
        return self

    def __exit__(self, *exc):
        from fabscore.evidence import annotate as ann

        (ann.encode, ann.extract, ann.pair_features, ann.EvidenceCheck.evidence_claims,
         ann.EvidenceCheck.article_tokens) = self.saved
        del self.index.search

    def rounded(self) -> dict:
        return {k: round(v, 3) for k, v in self.s.items()}


def scoring(det, texts: list[str], pool_index, pool_articles: int, big_per_article: float | None = None,
            synthetic: bool = True) -> dict:
    from fabscore.evidence import resolve_evidence

    check = resolve_evidence(pool_index, det.model)
    det.score(texts[:1])
    det.score(texts[:1], evidence=check)
    assert det.cache_size == 0, "the detector's memo would make the second run a cache hit"
    t = time.perf_counter()
    plain = det.score(texts)
    t_plain = time.perf_counter() - t
    with Parts(pool_index) as parts:
        t = time.perf_counter()
        with_ev = det.score(texts, evidence=check)
        t_ev = time.perf_counter() - t
    assert [r["score"] for r in plain] == [r["score"] for r in with_ev]
    n_sent = sum(len(r["sentences"]) for r in with_ev)
    measured = {"articles": len(texts), "sentences": n_sent, "pool_articles": pool_articles,
                "pool_sentences": len(pool_index), "without_evidence_s": round(t_plain, 2),
                "with_evidence_s": round(t_ev, 2), "ratio": round(t_ev / t_plain, 3),
                "evidence_s": round(t_ev - t_plain, 2), "evidence_parts_s": parts.rounded(),
                "evidence_other_s": round(t_ev - t_plain - sum(parts.s.values()), 2),
                "evidence_ms_per_sentence": round(1000 * (t_ev - t_plain) / max(n_sent, 1), 1),
                "load_average": list(os.getloadavg())}
    if not synthetic:
        return measured
    # the retrieval of a 10,000-article pool: a synthetic index of that many sentences
    per_article = big_per_article or len(pool_index) / pool_articles
    n_big = int(10_000 * per_article)
    big = synthetic_index(n_big)
    q = pool_index.vectors[:n_sent]
    big.search(q[:5], 5)  # builds FAISS if the size calls for it
    t = time.perf_counter()
    big.search(q, 5)
    t_big_search = (time.perf_counter() - t)
    other = t_ev - t_plain - parts.s["search"]
    t_ev_10k = t_plain + other + t_big_search
    rss = peak_rss()
    return {**measured, "pool_10k_sentences_per_article": round(per_article, 1), "pool_10k_articles_sentences": n_big,
            "pool_10k_search_s": round(t_big_search, 3),
            "pool_10k_search_backend": "faiss" if big._faiss is not None else "exact",
            "ratio_10k_extrapolated": round(t_ev_10k / t_plain, 3),
            "peak_rss_gib_with_10k_index": round(rss / GiB, 3),
            "note": "ratio_10k_extrapolated = (plain + evidence time without search + search time on a "
                    "synthetic index the size of a 10,000-article pool) / plain; the real pool was smaller "
                    "(and the verdict rules' per-article caches see fewer articles than a real 10k pool)"}


# ---------------------------------------------------------------- claims against a 200-article index
# (story keyword, claim stated as the story says, the same claim made false)
CLAIMS = [
    ("worst seen in over 20 years", "NOAA says Mississippi flooding could be the worst in over 20 years.",
     "NOAA says Mississippi flooding could be the worst in over 50 years."),
    ("Couric", "Katie Couric told People that Matt Lauer's firing from the Today show was very painful for her.",
     "Katie Couric told People that she was glad Matt Lauer was fired from the Today show."),
    ("Beyond the Wall", "Beyond the Wall, the sixth episode of the seventh Game of Thrones season, premiered August "
     "20, 2017.", "Beyond the Wall, the sixth episode of the seventh Game of Thrones season, premiered August 27, "
     "2017."),
    ("Wrecking Ball", "Miley Cyrus said she regrets filming the video for her 2013 hit song Wrecking Ball.",
     "Miley Cyrus said she is proud of the video for her 2015 hit song Wrecking Ball."),
    ("Halle Berry", "A source close to Halle Berry shut down reports that she is dating Keanu Reeves.",
     "A source close to Halle Berry confirmed reports that she is dating Keanu Reeves."),
    ("Mila Kunis", "Mila Kunis told Cosmopolitan that she does not read anything written about herself.",
     "Mila Kunis told Vogue that she reads everything the tabloids write about her."),
    ("Travis Scott", "Kylie Jenner and Travis Scott confirmed her pregnancy after she gave birth to a baby girl.",
     "Kylie Jenner and Drake confirmed her pregnancy after she gave birth to a baby boy."),
    ("Somerhalder", "Nina Dobrev said she was happy that her ex Ian Somerhalder found love with Nikki Reed.",
     "Nina Dobrev said she was upset that her ex Ian Somerhalder married Nikki Reed."),
]


def index_200(n: int = 200):
    """Every usnews_mar2023 human article (the flood story among them), the llmfake human article of
    each claim's story, then other llmfake human articles, to n (n < 200, --quick: the stories' articles
    and other llmfake ones to n)."""
    from fabscore.evidence import build_from_texts

    chosen = [r for r in rows("usnews_mar2023_human.clean.jsonl") if r["label"] == "human"]
    if n < 200:
        chosen = [r for r in chosen if CLAIMS[0][0] in r["text"]]
    llm = [r for r in rows("llmfake.clean.jsonl") if r["label"] == "human"]
    for key, _, _ in CLAIMS:
        if not any(key in r["text"] for r in chosen):
            chosen.append(next(r for r in llm if key in r["text"]))
    have = {r["id"] for r in chosen}
    chosen += [r for r in llm if r["id"] not in have][:n - len(chosen)]
    return build_from_texts([r["text"] for r in chosen], [r["id"] for r in chosen]), chosen


MEANING = Path(__file__).resolve().parent / "claims_meaning.jsonl"


def meaning_section(det, check, limit: int | None = None) -> dict:
    """Claims written by hand about indexed usnews_mar2023 sentences (claims_meaning.jsonl: the
    article and the sentence's offsets, a true paraphrase in other words, and a role or relation
    swap that reuses the sentence's words): each checked alone, as `fabscore check` does. A paraphrase
    should come out supported, a swap anything but."""
    items = [json.loads(line) for line in MEANING.read_text().splitlines() if line.strip()][:limit]
    texts = {r["id"]: r["text"] for r in rows("usnews_mar2023_human.clean.jsonl")}
    para = det.check([x["paraphrase"] for x in items], evidence=check)
    swap = det.check([x["swap"] for x in items], evidence=check)
    out = []
    for x, p, w in zip(items, para, swap):
        out.append({"sentence": texts[x["article_id"]][x["start"]:x["end"]], "swap_kind": x["swap_kind"],
                    "paraphrase": x["paraphrase"], "paraphrase_status": p["status"], "paraphrase_support": p["support"],
                    "swap": x["swap"], "swap_status": w["status"], "swap_support": w["support"]})
    ok_p = [x["paraphrase_status"] == "supported" for x in out]
    ok_s = [x["swap_status"] != "supported" for x in out]
    kinds = sorted({x["swap_kind"] for x in out})
    return {"n": len(out), "paraphrases_supported": round(float(np.mean(ok_p)), 4),
            "swaps_not_supported": round(float(np.mean(ok_s)), 4),
            "swaps_not_supported_by_kind": {k: round(float(np.mean([o for o, x in zip(ok_s, out)
                                                                    if x["swap_kind"] == k])), 4) for k in kinds},
            "paraphrase_statuses": {k: sum(x["paraphrase_status"] == k for x in out) for k in STATUS_NAMES},
            "swap_statuses": {k: sum(x["swap_status"] == k for x in out) for k in STATUS_NAMES},
            "items": out,
            "protocol": "each paraphrase and swap checked alone against the index; claim status (a claim of "
                        "several sentences is supported only when every sentence is)"}


STATUS_NAMES = ("supported", "contradicted", "unverified", "no_evidence")


def claims_section(det, n_edits: int, n_articles: int = 200) -> dict:
    """Short claims stated correctly and falsely, and single-number edits of indexed sentences."""
    import re

    from fabscore.evidence import resolve_evidence
    from fabscore.evidence.claims import extract
    from fabscore.text.sentences import prepare
    from fabscore.training.evidence.corruptions import change_number

    t = time.perf_counter()
    index, chosen = index_200(n_articles)
    check = resolve_evidence(index, det.model)
    out = {"index": {"articles": len(chosen), "sentences": len(index), "relevance_cut": round(check.relevance_cut, 4),
                     "build_s": round(time.perf_counter() - t, 1)}}
    short = []
    for key, true, false in CLAIMS:
        got = det.check([true, false], evidence=check)
        short.append({"story": key, **{name: {"claim": text, "words": len(text.split()),
                                               "status": [s["status"] for s in r["sentences"]],
                                               "support": [s["support"] for s in r["sentences"]],
                                               "marked": [(c["text"], c["verdict"], c["evidence_value"])
                                                          for s in r["sentences"] for c in s["claims"]
                                                          if c["verdict"] in ("absent", "conflicting")]}
                                       for name, text, r in (("true", true, got[0]), ("false", false, got[1]))}})
    ok_true = [x["true"]["status"] == ["supported"] for x in short]
    ok_false = [bool(x["false"]["status"]) and all(s in ("contradicted", "unverified") for s in x["false"]["status"])
                for x in short]
    out["short_claims"] = {"pairs": short, "true_supported": sum(ok_true), "false_not_supported": sum(ok_false),
                           "n": len(short), "flood_pair_met": ok_true[0] and ok_false[0]}
    # single-number edits of indexed sentences, checked one by one
    rng = np.random.default_rng(5)
    cands = [s.text for r in chosen for s in prepare(r["text"]).sentences
             if 8 <= len(s.text.split()) <= 50 and re.search(r"\d", s.text)]
    rng.shuffle(cands)
    edits = []
    for s, cs in zip(cands, extract(cands[:8 * n_edits])):
        nums = [c for c in cs if c.kind in ("number", "date") and re.search(r"\d", c.text)]
        got = change_number(s, nums[0], rng) if nums else None
        if got and got[0] != s:
            edits.append((s, got[0], got[1]))
        if len(edits) >= n_edits:
            break
    recs = det.check([e[1] for e in edits], evidence=check)
    origs = det.check([e[0] for e in edits], evidence=check)
    rows_out, conflicting = [], []
    for (_, edited, span), r, o in zip(edits, recs, origs):
        statuses = [s["status"] for s in r["sentences"]]
        changed = [c for s in r["sentences"] for c in s["claims"]
                   if c["start"] < span[1] and span[0] < c["end"]]
        conflicting.append(any(c["verdict"] == "conflicting" for c in changed))
        rows_out.append({"edited": edited, "status": statuses, "original_status": [s["status"] for s in o["sentences"]],
                         "changed_claim": [(c["text"], c["verdict"], c["evidence_value"]) for c in changed]})
    supported = [("supported" in x["status"]) for x in rows_out]
    statuses = [st for x in rows_out for st in x["status"]]
    if n_articles >= 200:  # the index holds every usnews_mar2023 article the hand-written claims are about
        out["meaning"] = meaning_section(det, check)
    else:
        from fabscore.evidence import build_from_texts

        items = [json.loads(line) for line in MEANING.read_text().splitlines()[:3]]
        texts = {r["id"]: r["text"] for r in rows("usnews_mar2023_human.clean.jsonl")}
        small = build_from_texts([texts[x["article_id"]] for x in items], [x["article_id"] for x in items])
        out["meaning"] = meaning_section(det, resolve_evidence(small, det.model), limit=3)
    out["number_edits"] = {
        "n": len(edits), "share_never_supported": round(1 - float(np.mean(supported)), 4),
        "share_number_conflicting": round(float(np.mean(conflicting)), 4),
        "edited_statuses": {k: statuses.count(k) for k in ("supported", "contradicted", "unverified", "no_evidence")},
        "original_statuses": {k: [st for x in rows_out for st in x["original_status"]].count(k)
                              for k in ("supported", "contradicted", "unverified", "no_evidence")},
        "supported_examples": [x for x, sup in zip(rows_out, supported) if sup],
        "protocol": "sentences of 8-50 words with a digit from the indexed articles (seeded shuffle); the first "
                    "number or date claim with digits changed by training.evidence.corruptions.change_number; each "
                    "edited sentence checked alone (fabscore check) against the 200-article index"}
    return out


def long_article_child(index_dir: str, words: int) -> dict:
    """In a fresh process: the default model's consistency head and the index (and, after one short
    check, MiniLM and spaCy), then one very long article's sentences checked against it (the evidence
    check alone: the writing model's own memory is measured elsewhere); peak RSS before and after."""
    from fabscore.evidence import load, resolve_evidence
    from fabscore.text.sentences import prepare

    check = resolve_evidence(load(index_dir), "default")
    check({"label": "abstain", "reason": "too short", "sentences": []}, prepare("The flood was the worst in years."))
    texts = [r["text"] for r in rows("usnews_mar2023_human.clean.jsonl") if r["label"] == "human"]
    article, n = [], 0
    for t in texts * 20:
        article.append(t)
        n += len(t.split())
        if n >= words:
            break
    text = "\n\n".join(article)
    before = peak_rss()
    t = time.perf_counter()
    rec = check({"label": "human", "reason": None, "sentences": []}, prepare(text))
    seconds = time.perf_counter() - t
    return {"words": len(text.split()), "sentences": len(rec["sentences"]), "evidence_s": round(seconds, 1),
            "peak_rss_gib_before": round(before / GiB, 3), "peak_rss_gib": round(peak_rss() / GiB, 3),
            "statuses": {k: v for k, v in rec["evidence_summary"].items() if k.startswith("n_")}}


def real_pool_index(n: int, workdir: Path) -> dict:
    """A real pool of n articles, indexed by `fabscore index` in a child process (timed, peak RSS from
    /proc); reused when workdir already holds it. Returns where it is and what it took."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"index-{n}"
    info_file = workdir / f"index-{n}.build.json"
    if (out / "index.json").is_file() and info_file.is_file():
        return json.loads(info_file.read_text())
    order = (("human", ("llmfake", "politifact_pp", "aiclf_news", "iu_news", "usnews_mar2023_human")),
             ("machine", ("llmfake", "politifact_pp", "aiclf_news", "iu_news")),
             (None, ("iu_wiki_en", "outfox_essays")))
    chosen: list[dict] = []
    for label, names in order:
        for name in names:
            chosen += [r for r in rows(f"{name}.clean.jsonl") if label is None or r["label"] == label]
    chosen = chosen[:n]
    src = workdir / f"pool-{n}.jsonl"
    with src.open("w") as f:
        for r in chosen:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    cmd = [sys.executable, "-m", "fabscore", "index", str(src), "--out", str(out)]
    t = time.perf_counter()
    child = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, peak_rss(child.pid))
        time.sleep(0.5)
    seconds = time.perf_counter() - t
    err = child.stderr.read()
    if child.returncode != 0:
        raise SystemExit(f"fabscore index failed ({child.returncode}): {err}")
    config = json.loads((out / "index.json").read_text())
    info = {"dir": str(out), "articles": len(chosen), "sentences": config["n_sentences"],
            "words": sum(len(r["text"].split()) for r in chosen),
            "by_label": {str(k): sum(r["label"] == k for r in chosen) for k in ("human", "machine")},
            "index_s": round(seconds, 1), "sentences_per_s": round(config["n_sentences"] / seconds, 1),
            "index_peak_rss_gib": round(peak / GiB, 3), "ivf_stored": bool(config.get("ivf")),
            "command": "fabscore index pool.jsonl --out DIR", "stderr_tail": err.strip().splitlines()[-1:]}
    info_file.write_text(json.dumps(info, indent=2) + "\n")
    return info


def real_pool_scoring(det, texts: list[str], info: dict) -> dict:
    """Scoring with and without a real pool loaded from disk; peak RSS of this process (VmHWM)."""
    from fabscore.evidence import load

    t = time.perf_counter()
    index = load(info["dir"])
    t_load = time.perf_counter() - t
    res = scoring(det, texts, index, info["articles"], big_per_article=None, synthetic=False)
    res.update(pool_load_s=round(t_load, 2), pool_articles=info["articles"],
               peak_rss_gib=round(peak_rss() / GiB, 3))
    return res


def long_article(index_dir: str, words: int) -> dict:
    """long_article_child in a fresh process (its own peak RSS)."""
    cmd = [sys.executable, __file__, "--long-article-child", index_dir, "--long-words", str(words)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pool", type=int, default=None, help="articles in the real pool (default 300; --quick 10)")
    ap.add_argument("--articles", type=int, default=None, help="articles scored (default 8; --quick 2)")
    ap.add_argument("--big-per-article", type=float, default=None,
                    help="sentences per article of the synthetic 10,000-article pool (full-length news: ~25, the "
                         "default; --quick 2; 0 = the real pool's mean)")
    ap.add_argument("--edits", type=int, default=None, help="single-number edits checked (default 80; --quick 10)")
    ap.add_argument("--quick", action="store_true", help="a few articles, a small pool: checks that it runs")
    ap.add_argument("--real-pool", type=int, default=0, metavar="N",
                    help="also index a real pool of N articles from ../shared/data (10000: the issue's target) and "
                         "score with it, measured; and check a very long article against it")
    ap.add_argument("--long-words", type=int, default=50_000, help="words of the very long article (--real-pool)")
    ap.add_argument("--long-article-child", default=None, metavar="INDEX", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default="/tmp/fabscore-evidence-pool", help="where the real pool and its index go")
    ap.add_argument("--skip", default="", help="comma list of sections to skip: heldout, seeds, claims, indexing, "
                                               "scoring (the others are kept from --out)")
    ap.add_argument("--out", default=str(common.BENCHMARKS / "evidence_targets.json"))
    args = ap.parse_args(argv)
    if args.long_article_child:
        print(json.dumps(long_article_child(args.long_article_child, args.long_words)))
        return 0
    args.pool = args.pool or (10 if args.quick else 300)
    args.articles = args.articles or (2 if args.quick else 8)
    args.edits = args.edits or (10 if args.quick else 80)
    if args.big_per_article is None:
        args.big_per_article = 2.0 if args.quick else 25.0
    skip = set(filter(None, args.skip.split(",")))
    from fabscore import load_detector
    from fabscore.training.evidence.evaluate import evidence_report, seed_checks

    def say(m):
        print(m, file=sys.stderr, flush=True)

    det = load_detector(cache_size=0)  # no memo of scored texts: the with-evidence run must score again
    out_path = Path(args.out)
    res = json.loads(out_path.read_text()) if skip and out_path.is_file() else {}  # skipped sections are kept
    res["machine"] = common.machine()
    if "heldout" not in skip:  # what `fabscore evaluate --evidence` reports, seeds apart
        t = time.perf_counter()
        res["heldout"] = evidence_report(det.model, n_stories=8 if args.quick else 160,
                                         rewrites=8 if args.quick else 250, data_dir=SHARED,
                                         human=12 if args.quick else None, seeds=None, log=say)
        res["heldout"]["seconds"] = round(time.perf_counter() - t, 1)
        say(json.dumps({k: v for k, v in res["heldout"].items() if k in ("corruption_auroc", "natural_auroc",
                                                                        "qags", "climate_fever")}, indent=1))
    if "seeds" not in skip:
        res["seeds"] = seed_checks(det, REPO / "seeds", SHARED, n_unrelated=5 if args.quick else 50)
        say(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "sentences"} for k, v in res["seeds"].items()},
                       indent=1))
    if "claims" not in skip:
        res["claims"] = claims_section(det, args.edits, 20 if args.quick else 200)
        say(json.dumps({k: v for k, v in res["claims"]["number_edits"].items() if k != "supported_examples"},
                       indent=1))
        say(json.dumps({k: v for k, v in res["claims"]["meaning"].items() if k != "items"}, indent=1))
    articles = [r["text"] for r in rows("llmfake.clean.jsonl") if r["label"] == "machine"
                and 150 <= len(r["text"].split()) <= 600][:args.articles]
    if not {"indexing", "scoring"} <= skip:
        pool = [r["text"] for r in rows("llmfake.clean.jsonl") if r["label"] == "human"][:args.pool]
        res["indexing"], index = indexing(pool)
        say(json.dumps(res["indexing"], indent=1))
        if "scoring" not in skip:
            res["scoring"] = scoring(det, articles, index, args.pool, args.big_per_article)
            say(json.dumps(res["scoring"], indent=1))
    if args.real_pool:
        info = real_pool_index(args.real_pool, Path(args.workdir))
        say(json.dumps(info, indent=1))
        res["real_pool"] = {"index": info, "scoring": real_pool_scoring(det, articles, info)}
        say(json.dumps(res["real_pool"]["scoring"], indent=1))
        res["real_pool"]["long_article"] = long_article(info["dir"], args.long_words)
        say(json.dumps(res["real_pool"]["long_article"], indent=1))
    res["load_average_end"] = os.getloadavg()
    res["targets"] = {"qags_sentence_auroc": 0.88, "qags_summary_spearman": 0.72, "natural_auroc": 0.93,
                      "climate_sr_auroc": 0.576 + 0.10, "corruption_auroc": 0.95, "number_edits_never_supported": 1.0,
                      "index_over_bare": 0.5, "ratio_10k": 3.0, "peak_rss_gib": 2.0}
    res["quick"] = args.quick
    common.write_json(out_path, res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
