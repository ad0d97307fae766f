// The page calls the same API a program does (/v1/report renders the records as the HTML report,
// shown in a sandboxed frame), so what a person sees is what `fabscore score --html` writes.
"use strict";
const $ = (id) => document.getElementById(id);

function headers() {
  const h = { "Content-Type": "application/json" };
  const token = $("token").value.trim();
  if (token) h["Authorization"] = "Bearer " + token;
  return h;
}

function say(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function report(body, button) {
  button.disabled = true;
  say("Working: the first request loads the models and can take a minute.");
  try {
    const r = await fetch("/v1/report", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!r.ok) {
      let detail = r.statusText;
      try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (e) { /* not JSON */ }
      say("Error " + r.status + ": " + detail, true);
      return;
    }
    $("result").srcdoc = await r.text();
    say("Done: the result is below.");
  } catch (e) {
    say("The server did not answer: " + e, true);
  } finally {
    button.disabled = false;
  }
}

function evidenceOf(textarea) {
  const index = $("index").value;
  const text = $(textarea).value.trim();
  return index ? { index: index } : text ? { evidence: [text] } : {};
}

$("score-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  report({ texts: [$("text").value], ...evidenceOf("evidence") }, ev.submitter || $("score-form").querySelector("button"));
});

$("check-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const ev_ = evidenceOf("claim-evidence");
  if (!ev_.index && !ev_.evidence) { say("Give a reference text or choose an index to check against.", true); return; }
  report({ claims: [$("claim").value], ...ev_ }, ev.submitter || $("check-form").querySelector("button"));
});

fetch("/readyz", { headers: headers() }).then((r) => r.ok ? r.json() : null).then((j) => {
  for (const name of (j && j.indexes) || []) {
    const o = document.createElement("option");
    o.value = name; o.textContent = name;
    $("index").appendChild(o);
  }
}).catch(() => {});
