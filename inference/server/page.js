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
    $("result-h").scrollIntoView();
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

// Indexes: listed with their counts in a table and in both pickers; an article added goes in at once.
async function loadIndexes() {
  const r = await fetch("/v1/indexes", { headers: headers() }).catch(() => null);
  if (!r || !r.ok) return;
  const rows = await r.json();
  $("indexes").replaceChildren();
  for (const select of [$("index"), $("add-index")]) {
    const keep = select.value;
    select.replaceChildren();
    if (select.id === "index") select.append(new Option("(none)", ""));
    for (const ix of rows) select.append(new Option(ix.name, ix.name));
    select.value = keep;
  }
  for (const ix of rows) {
    const tr = document.createElement("tr");
    for (const v of [ix.name, ix.articles, ix.sentences]) {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    }
    $("indexes").append(tr);
  }
  if (!rows.length) {
    const tr = document.createElement("tr"), td = document.createElement("td");
    td.colSpan = 3; td.textContent = "none: start the server with --index NAME=DIR"; tr.append(td);
    $("indexes").append(tr);
  }
}

$("add-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("add-index").value;
  if (!name) { say("This server has no index to add to.", true); return; }
  const article = { id: $("add-id").value.trim(), text: $("add-text").value };
  if ($("add-title").value.trim()) article.title = $("add-title").value.trim();
  if ($("add-url").value.trim()) article.url = $("add-url").value.trim();
  const r = await fetch("/v1/indexes/" + encodeURIComponent(name) + "/articles",
    { method: "POST", headers: headers(), body: JSON.stringify({ articles: [article] }) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) { say("Error " + r.status + ": " + (typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail)), true); return; }
  say("Added to " + j.name + ": it now holds " + j.articles + " articles, " + j.sentences + " sentences.");
  loadIndexes();
});

// Batches: a job per upload, its progress polled until it ends, then its results to download.
const KINDS = { zip: "application/zip", jsonl: "application/x-ndjson", csv: "text/csv" };

function jobItem(job) {
  const old = $("job-" + job.id);
  if (old) old.remove();
  const li = document.createElement("li");
  li.id = "job-" + job.id;
  const label = document.createElement("span");
  const bar = document.createElement("progress");
  bar.max = job.total; bar.value = job.done;
  bar.setAttribute("aria-label", "progress of job " + job.id);
  const links = document.createElement("span");
  li.append(label, " ", bar, " ", links);
  $("jobs").prepend(li);
  return { li, label, bar, links };
}

async function download(id, format) {
  const r = await fetch("/v1/jobs/" + id + "/results?format=" + format, { headers: headers() });
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url; a.download = "fabscore-" + id + "." + format;
  document.body.append(a); a.click(); a.remove();
}

async function follow(job, item, announce = true) {
  const cancel = document.createElement("button");
  cancel.type = "button"; cancel.textContent = "Cancel job " + job.id;
  cancel.addEventListener("click", async () => {
    await fetch("/v1/jobs/" + job.id, { method: "DELETE", headers: headers() });
  });
  if (["queued", "running"].includes(job.status)) item.links.append(cancel);
  for (;;) {
    const r = await fetch("/v1/jobs/" + job.id, { headers: headers() });
    if (!r.ok) { item.label.textContent = "job " + job.id + ": error " + r.status; return; }
    job = await r.json();
    item.bar.max = job.total; item.bar.value = job.done;
    const eta = job.eta_s == null ? "" : ", about " + Math.ceil(job.eta_s) + " s left";
    item.label.textContent = "job " + job.id + ": " + job.status + ", " + job.done + " of " + job.total +
      (job.errors ? " (" + job.errors + " unreadable)" : "") + eta;
    if (["done", "failed", "cancelled"].includes(job.status)) break;
    await new Promise((ok) => setTimeout(ok, 1000));
  }
  cancel.remove();
  for (const format of ["jsonl", "csv", "html"]) {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = "Download " + format.toUpperCase();
    b.className = "download";
    b.addEventListener("click", () => download(job.id, format));
    item.links.append(b, " ");
  }
  if (announce) say("Job " + job.id + " " + job.status + ".");
}

$("batch-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("batch-file").files[0];
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  if (!KINDS[ext]) { say("Choose a .zip, .jsonl or .csv file.", true); return; }
  const h = headers();
  h["Content-Type"] = KINDS[ext];
  const field = encodeURIComponent($("text-field").value.trim() || "text");
  const r = await fetch("/v1/jobs?text_field=" + field, { method: "POST", headers: h, body: file });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) { say("Error " + r.status + ": " + (typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail)), true); return; }
  say("Job " + j.id + " started: " + j.total + " inputs.");
  follow(j, jobItem(j));
});

// Every job the server keeps, newest first: running ones are followed, finished ones offer downloads.
async function loadJobs() {
  const r = await fetch("/v1/jobs?limit=20", { headers: headers() }).catch(() => null);
  if (!r || !r.ok) return;
  const list = await r.json();
  for (const job of list.reverse()) follow(job, jobItem(job), false);
}

$("jobs-refresh").addEventListener("click", loadJobs);
$("token").addEventListener("change", () => { loadIndexes(); loadJobs(); });
loadIndexes();
loadJobs();
