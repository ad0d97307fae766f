"""One self-contained HTML page for a batch of scored articles.

The page must open from a USB stick with no network, so CSS and JS are inline
and nothing is fetched. Article text is hostile input: every string goes
through `html.escape`, and a Content-Security-Policy that allows only our own
script and style (by hash) stops anything that slipped through from running.
Output is built as a list of strings and joined once, so size stays linear.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from html import escape
from pathlib import Path
from typing import Iterable

N_BUCKETS = 10
# A light sequential ramp (white -> warm orange): dark text stays readable on every
# shade (contrast >= 6:1), and luminance alone orders it for colour-blind readers.
PALETTE = ("#ffffff", "#fff6dd", "#ffebbd", "#ffdf9f", "#ffd084",
           "#ffbf6d", "#ffac5d", "#fd9754", "#f9814f", "#f0694d")
LABEL_RANK = {"fabricated": 0, "human": 1, "abstain": 2, "error": 3}
FLAG = "\u2691"  # ⚑

CSS = """
:root{--ink:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#ffffff;--panel:#f6f7f9;--accent:#0b57d0;
--fab:#a4161a;--hum:#1b6e3a;--abs:#7a5b00;--err:#5b2a86}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:62rem;margin:0 auto;padding:1.5rem 1.25rem 4rem}
h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.25rem;margin:2.5rem 0 .75rem;padding-bottom:.3rem;
border-bottom:1px solid var(--line)}h3{font-size:1.05rem;margin:0;word-break:break-all}
a{color:var(--accent)}a:focus-visible,button:focus-visible,.s:focus-visible{outline:3px solid var(--accent);
outline-offset:2px}
.meta{color:var(--muted);margin:.1rem 0}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--panel);padding:0 .25em;
border-radius:3px}
.counts{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0;padding:0;list-style:none}
.counts li{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:.35rem .75rem}
.counts b{font-size:1.15rem;margin-right:.3rem}
.note{background:#eef4ff;border-left:4px solid var(--accent);padding:.6rem .9rem;border-radius:4px;margin:1rem 0}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;margin:.75rem 0;color:var(--muted);
font-size:.92rem}
.ramp{display:inline-flex;align-items:center;gap:.35rem}.ramp span.sw{display:inline-block;width:1.4rem;
height:1rem;border:1px solid var(--line)}
.ramp .sw:first-of-type{border-radius:3px 0 0 3px}
table{width:100%;border-collapse:collapse;font-size:.95rem}
caption{text-align:left;color:var(--muted);padding-bottom:.4rem}
th,td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--panel);position:sticky;top:0;padding:0}
th button{all:unset;box-sizing:border-box;cursor:pointer;display:block;width:100%;padding:.45rem .6rem;font-weight:600}
th button::after{content:"\\2195";color:var(--muted);margin-left:.35rem;font-size:.85em}
th[aria-sort=ascending] button::after{content:"\\25B2";color:var(--ink)}
th[aria-sort=descending] button::after{content:"\\25BC";color:var(--ink)}
td.num,th.num{text-align:right}th.num button{text-align:right}
td.path{word-break:break-all}
tbody tr:hover{background:#fafbfc}
.badge{display:inline-block;font-size:.8rem;font-weight:600;padding:.05rem .5rem;border-radius:999px;
border:1px solid currentColor;white-space:nowrap}
.badge.fabricated{color:var(--fab)}.badge.human{color:var(--hum)}.badge.abstain{color:var(--abs)}
.badge.error{color:var(--err)}
article{margin:2rem 0;border:1px solid var(--line);border-radius:8px;overflow:hidden}
article header{background:var(--panel);padding:.75rem 1rem;border-bottom:1px solid var(--line)}
article .facts{display:flex;flex-wrap:wrap;gap:.25rem 1.25rem;margin:.35rem 0 0;font-size:.9rem;color:var(--muted)}
article .facts b{color:var(--ink)}
.text{padding:.5rem 1rem 1rem;font-family:Georgia,"Times New Roman",serif;font-size:1.05rem;line-height:1.75}
.text p{margin:.6rem 0}
.s{border-radius:3px;padding:.1em 0;box-decoration-break:clone;-webkit-box-decoration-break:clone;cursor:help}
.s:hover{outline:1px solid #8a939e}
.s.flagged{text-decoration:underline;text-decoration-thickness:2px;text-underline-offset:3px;
text-decoration-color:#5c0a0d}
.s.flagged::before{content:"\\2691\\00a0";color:#5c0a0d;font-family:system-ui,sans-serif;font-size:.85em}
""" + "".join(f".b{i}{{background:{c}}}" for i, c in enumerate(PALETTE)) + """
.ramp .sw.flag{background:none;border:none;width:auto;color:var(--fab);text-decoration:underline;
text-decoration-thickness:2px}
#tip{position:absolute;z-index:10;background:#1b1f24;color:#fff;font:600 .85rem/1.3 system-ui,sans-serif;
padding:.3rem .55rem;border-radius:4px;pointer-events:none;white-space:nowrap;box-shadow:0 2px 6px rgba(0,0,0,.25)}
#tip[hidden]{display:none}
.problems li{margin:.3rem 0}.problems .why{color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
"""

JS = """
(function(){
'use strict';
var table=document.getElementById('articles');
if(table){
  var tbody=table.tBodies[0],status=document.getElementById('sort-status');
  var value=function(row,key){
    var v=row.getAttribute('data-'+key);
    if(key==='path')return v;
    return v===''?null:parseFloat(v);
  };
  var sortBy=function(btn){
    var th=btn.parentNode,key=btn.getAttribute('data-key'),cur=th.getAttribute('aria-sort');
    var dir=cur==='descending'?'ascending':cur==='ascending'?'descending':btn.getAttribute('data-first');
    var sign=dir==='ascending'?1:-1;
    var rows=Array.prototype.slice.call(tbody.rows);
    rows.sort(function(a,b){
      var x=value(a,key),y=value(b,key);
      if(x===null||y===null){if(x!==y)return x===null?1:-1;}
      else if(x<y)return -sign;else if(x>y)return sign;
      return a.getAttribute('data-index')-b.getAttribute('data-index');
    });
    var frag=document.createDocumentFragment();
    rows.forEach(function(r){frag.appendChild(r);});
    tbody.appendChild(frag);
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.setAttribute('aria-sort','none');});
    th.setAttribute('aria-sort',dir);
    if(status)status.textContent='Sorted by '+btn.textContent+', '+dir+'.';
  };
  Array.prototype.forEach.call(table.querySelectorAll('th button'),function(b){
    b.addEventListener('click',function(){sortBy(b);});
  });
}
var tip=document.getElementById('tip'),current=null;
var sentence=function(t){return t&&t.closest?t.closest('.s'):null;};
var show=function(e){
  var s=sentence(e.target);
  if(!s||s===current)return;
  current=s;
  tip.textContent=s.getAttribute('title');
  tip.hidden=false;
  var r=s.getClientRects()[0]||s.getBoundingClientRect();
  var top=r.top+window.pageYOffset-tip.offsetHeight-6;
  if(top<window.pageYOffset)top=r.bottom+window.pageYOffset+6;
  var left=Math.max(4,Math.min(r.left+window.pageXOffset,
    document.documentElement.clientWidth+window.pageXOffset-tip.offsetWidth-4));
  tip.style.top=top+'px';tip.style.left=left+'px';
  s.setAttribute('aria-describedby','tip');
};
var hide=function(e){
  var s=sentence(e.target);
  if(!s||s!==current)return;
  if(e.relatedTarget&&s.contains(e.relatedTarget))return;
  if(e.type==='mouseout'&&document.activeElement===s)return;
  s.removeAttribute('aria-describedby');
  current=null;tip.hidden=true;
};
document.addEventListener('mouseover',show);document.addEventListener('focusin',show);
document.addEventListener('mouseout',hide);document.addEventListener('focusout',hide);
document.addEventListener('keydown',function(e){if(e.key==='Escape'&&current){tip.hidden=true;current=null;}});
})();
"""


def _csp_hash(source: str) -> str:
    """CSP source expression allowing exactly this inline block and nothing else."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


def _e(value: object) -> str:
    """Escaped text for element content and quoted attributes alike."""
    return escape("" if value is None else str(value), quote=True)


def _fmt(score: float | None, digits: int = 2) -> str:
    return "\u2014" if score is None else f"{score:.{digits}f}"


def _bucket(score: float) -> int:
    return min(N_BUCKETS - 1, max(0, int(score * N_BUCKETS)))


def _is_scored(rec: dict) -> bool:
    return rec.get("score") is not None and rec.get("label") in ("fabricated", "human")


def _anchor(i: int) -> str:
    return f"a{i}"  # never derived from record fields, which are untrusted


def _models(records: list[dict], model: dict | None) -> list[dict]:
    """Distinct models in the batch (normally one), the explicit one first."""
    out, seen = [], set()
    for m in ([model] if model else []) + [r.get("model") or {} for r in records]:
        key = (m.get("name"), m.get("sha256"))
        if m and key not in seen:
            seen.add(key)
            out.append(m)
    return out


def _model_text(m: dict | None) -> str:
    if not m:
        return "unknown model"
    sha = str(m.get("sha256") or "")[:12]
    return f"<b>{_e(m.get('name') or '?')}</b> <code title=\"{_e(m.get('sha256'))}\">{_e(sha)}</code>"


def _counts(records: list[dict]) -> dict[str, int]:
    labels = [r.get("label") for r in records]
    return {"articles": len(records), "scored": sum(map(_is_scored, records)),
            "flagged": labels.count("fabricated"), "human": labels.count("human"),
            "abstained": labels.count("abstain"), "errors": labels.count("error")}


def _thresholds(records: list[dict]) -> str:
    pairs = sorted({(r.get("threshold"), r.get("target_fpr")) for r in records if r.get("threshold") is not None},
                   key=lambda p: (p[0], p[1] if p[1] is not None else -1))
    if not pairs:
        return "no threshold recorded"
    return "; ".join(f"threshold <b>{_e(_fmt(t, 4))}</b> for a target false-positive rate of "
                     f"<b>{_e(_pct(f))}</b>" for t, f in pairs)


def _pct(fpr: float | None) -> str:
    return "?" if fpr is None else f"{fpr * 100:g}%"


def _header(records: list[dict], model: dict | None) -> list[str]:
    models = _models(records, model)
    counts = _counts(records)
    swatches = "".join(f'<span class="sw b{i}"></span>' for i in range(N_BUCKETS))
    return [
        "<header><h1>fabscore report</h1>",
        '<p class="meta">Model: ', ", ".join(_model_text(m) for m in models) or "unknown model", "</p>",
        f'<p class="meta">{_thresholds(records)}</p>',
        '<ul class="counts" aria-label="counts">',
        *(f"<li><b>{n}</b>{_e(k)}</li>" for k, n in counts.items()),
        "</ul>",
        '<p class="note"><b>How to read this.</b> A score is a calibrated probability, estimated by a statistical '
        "model, that the text is machine-written or fabricated. It is evidence to weigh, not proof: at the "
        "threshold shown, about that share of genuine human-written articles is still flagged. Short or "
        "non-English texts are not scored (the model abstains).</p>",
        '<div class="legend"><span class="ramp" aria-hidden="true">sentence score 0 ', swatches, " 1</span>",
        f'<span><span class="sw flag" aria-hidden="true">{FLAG} underlined</span> = flagged sentence '
        "(score at or above the sentence threshold)</span>",
        "<span>Hover over or tab to a sentence to see its score.</span></div>",
        "</header>",
    ]


def _table(records: list[dict], order: list[int]) -> list[str]:
    cols = (("score", "Score", "num", "descending"), ("label", "Label", "", "ascending"),
            ("words", "Words", "num", "descending"), ("path", "Path", "", "ascending"))
    head = "".join(
        f'<th scope="col" class="{cls}" aria-sort="{"descending" if key == "score" else "none"}">'
        f'<button type="button" data-key="{key}" data-first="{first}">{title}</button></th>'
        for key, title, cls, first in cols)
    out = ['<h2 id="articles-heading">Articles</h2>',
           '<table id="articles" aria-labelledby="articles-heading"><caption>Click or press Enter on a column '
           'heading to sort. <span id="sort-status" class="sr-only" aria-live="polite"></span></caption>',
           f"<thead><tr>{head}</tr></thead><tbody>"]
    for i in order:
        r = records[i]
        label = str(r.get("label") or "error")
        score = r.get("score")
        words = r.get("n_words")
        out.append(
            f'<tr data-index="{i}" data-score="{"" if score is None else _e(score)}" '
            f'data-label="{LABEL_RANK.get(label, 9)}" data-words="{"" if words is None else _e(words)}" '
            f'data-path="{_e(r.get("path") or r.get("id") or "")}">'
            f'<td class="num">{_fmt(score)}</td><td><span class="badge {_e(label)}">{_e(label)}</span></td>'
            f'<td class="num">{"" if words is None else _e(words)}</td>'
            f'<td class="path"><a href="#{_anchor(i)}">{_e(r.get("path") or r.get("id") or "(no path)")}</a></td></tr>')
    out.append("</tbody></table>")
    return out


def _sentence(s: dict) -> str:
    score = float(s.get("score") or 0.0)
    flagged = bool(s.get("flagged"))
    tip = f"sentence score {score:.2f}" + (" \u2014 flagged" if flagged else "")
    cls = f"s b{_bucket(score)}" + (" flagged" if flagged else "")
    mark = ' data-flagged="true"' if flagged else ""
    return (f'<span class="{cls}" tabindex="0" title="{tip}" data-score="{score:.4f}"{mark}>'
            f'{_e(s.get("text"))}</span>')


def _paragraphs(sentences: Iterable[dict]) -> list[str]:
    """Sentences joined by spaces; a gap of more than one character starts a paragraph."""
    out, prev_end = ["<p>"], None
    for s in sentences:
        start = s.get("start")
        if prev_end is not None:
            gap = (start - prev_end) if isinstance(start, int) and isinstance(prev_end, int) else 1
            out.append("</p><p>" if gap > 1 else " ")
        out.append(_sentence(s))
        prev_end = s.get("end")
    out.append("</p>")
    return out


def _article(i: int, r: dict) -> list[str]:
    label = str(r.get("label"))
    sents = r.get("sentences") or []
    n_flag = sum(bool(s.get("flagged")) for s in sents)
    out = [f'<article id="{_anchor(i)}" aria-labelledby="{_anchor(i)}-h"><header>',
           f'<h3 id="{_anchor(i)}-h">{_e(r.get("path") or r.get("id") or "(no path)")}</h3>',
           '<p class="facts">',
           f'<span>score <b>{_fmt(r.get("score"), 3)}</b></span>',
           f'<span><span class="badge {_e(label)}">{_e(label)}</span></span>',
           f'<span>threshold <b>{_fmt(r.get("threshold"), 4)}</b> (target FPR {_e(_pct(r.get("target_fpr")))})</span>',
           f'<span>{_e(r.get("n_words"))} words</span>',
           f'<span>{n_flag} of {len(sents)} sentences flagged</span>',
           f'<span>model {_model_text(r.get("model"))}</span>',
           '</p></header><div class="text">']
    out += _paragraphs(sents) if sents else ['<p class="empty">No per-sentence scores for this article.</p>']
    out.append("</div></article>")
    return out


def _problems(records: list[dict]) -> list[str]:
    out = ['<h2 id="problems">Abstentions and errors</h2>']
    items = [(i, r) for i, r in enumerate(records) if not _is_scored(r)]
    if not items:
        return out + ['<p class="empty">None: every article was scored.</p>']
    out.append('<ul class="problems">')
    for i, r in items:
        label = str(r.get("label") or "error")
        why = r.get("error") or r.get("reason") or "no reason recorded"
        out.append(f'<li id="{_anchor(i)}"><span class="badge {_e(label)}">{_e(label)}</span> '
                   f'<code>{_e(r.get("path") or r.get("id") or "(no path)")}</code> '
                   f'<span class="why">\u2014 {_e(why)}</span></li>')
    out.append("</ul>")
    return out


def render(records: list[dict], model: dict | None = None) -> str:
    """The whole page as one string."""
    order = sorted(range(len(records)),
                   key=lambda i: (records[i].get("score") is None, -(records[i].get("score") or 0.0), i))
    csp = (f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             f'<meta http-equiv="Content-Security-Policy" content="{csp}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<meta name="referrer" content="no-referrer">',
             "<title>fabscore report</title>", f"<style>{CSS}</style></head><body><main>"]
    parts += _header(records, model)
    parts += _table(records, order)
    parts.append('<h2 id="texts">Scored articles</h2>')
    scored = [i for i in order if _is_scored(records[i])]
    for i in scored:
        parts += _article(i, records[i])
    if not scored:
        parts.append('<p class="empty">No article was scored.</p>')
    parts += _problems(records)
    parts.append(f'</main><div id="tip" role="tooltip" hidden></div><script>{JS}</script></body></html>\n')
    return "".join(parts)


def write_html(path: str | Path, records: list[dict], model: dict | None = None) -> Path:
    """Write the report for `records` (fabscore score's JSONL records) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(list(records), model), encoding="utf-8")
    return path


def read_jsonl(path: str | Path) -> list[dict]:
    """Records of a `fabscore score` output file, skipping blank lines."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """`python -m inference.report runs/x.jsonl -o report.html`: render an existing run."""
    ap = argparse.ArgumentParser(prog="python -m inference.report", description=main.__doc__)
    ap.add_argument("jsonl")
    ap.add_argument("-o", "--out", default=None, help="default: the JSONL path with .html")
    args = ap.parse_args(argv)
    out = write_html(args.out or Path(args.jsonl).with_suffix(".html"), read_jsonl(args.jsonl))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
