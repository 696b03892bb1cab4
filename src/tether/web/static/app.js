// tether ui: live run steps over Server-Sent Events and hunk review by keyboard. Everything that
// comes from files, models or tools is put on the page as text (textContent), never as markup.
"use strict";
const csrf = document.querySelector('meta[name="csrf"]').content;

function post(url, body) {
  return fetch(url, { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(body || {}) })
    .then(async (r) => { const data = await r.json().catch(() => ({})); if (!r.ok) throw new Error(data.error || r.statusText); return data; });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") node.className = v; else node.setAttribute(k, v); }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function diffBlock(text) {
  const pre = el("pre", { class: "diff" });
  for (const line of text.replace(/\n$/, "").split("\n")) {
    pre.append(el("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "" }, line));
  }
  return pre;
}

const LONG = 40;  // lines: a longer step text is folded (a 2,000-line edit once took the review's first frame)
function folded(text, what, build) {  // a long text behind a summary, built when opened
  const lines = (text || "").split("\n").length;
  if (lines <= LONG) return build();
  const box = el("details", {}, el("summary", {}, `${what}: ${lines} lines`));
  box.addEventListener("toggle", () => { if (box.open && box.children.length === 1) box.append(build()); });
  return box;
}

const money = (cost) => (cost == null ? "cost unknown" : "$" + Number(cost).toFixed(4));
const PROGRESS = ["status", "reading", "writing"];

function progressLine(e, started) {  // the same line the terminal shows (cli/terminal.py progress_line); `started`: the server's clock
  const spent = e.step == null ? "" : `step ${e.step} · ${e.tokens} tokens · ${money(e.cost)} · `;  // a question is one call
  const head = `${spent}${Math.round(Date.now() / 1000 - started)} s`;
  if (e.kind === "reading") {
    const left = e.left == null ? "" : ` · about ${Math.round(e.left)} s left`;
    return `${head} · reading the prompt: ${e.read} of ${e.total} tokens (${Math.floor((100 * e.read) / Math.max(e.total, 1))}%)${left}`;
  }
  if (e.kind === "writing") return `${head} · writing: ${e.written} tokens · ${(e.text || "").split(/\s+/).join(" ").slice(-60)}`;
  return `${head} · ${e.doing || "working"}`;
}

const askBox = document.getElementById("asking");
if (askBox) {  // a question being answered: the prompt read, the claims as they are written, Stop; the page reloads with the answer
  const key = askBox.dataset.key, started = Number(askBox.dataset.started), status = document.getElementById("status");
  let live = null, stopping = false;  // once Stop is pressed the line says so until the end comes
  const ticking = setInterval(() => { if (live) status.textContent = progressLine(live, started); }, 1000);
  const source = new EventSource(`/runs/${key}/events`);
  source.onmessage = (message) => {
    const e = JSON.parse(message.data);
    if (PROGRESS.includes(e.kind)) { if (!stopping) { live = e; status.textContent = progressLine(e, started); } }
    else if (e.kind === "claim") document.getElementById("written").append(el("li", {}, e.text));
    else if (e.kind === "end") { clearInterval(ticking); source.close(); window.location.replace(`/ask/${key}`); }
  };
  document.getElementById("stop").onclick = () => post(`/runs/${key}/stop`).then(() => { stopping = true; live = null; status.textContent = "stopping…"; })
    .catch((error) => { status.textContent = error.message || String(error); });
}

const planBox = document.getElementById("planning");
if (planBox && planBox.dataset.running) {  // a plan being made: the prompt read, the plan written, Stop; the page reloads with the plan
  const key = planBox.dataset.key, started = Number(planBox.dataset.started), status = document.getElementById("status");
  let live = null, stopping = false;
  const ticking = setInterval(() => { if (live) status.textContent = progressLine(live, started); }, 1000);
  const source = new EventSource(`/runs/${key}/events`);
  source.onmessage = (message) => {
    const e = JSON.parse(message.data);
    if (PROGRESS.includes(e.kind)) { if (!stopping) { live = e; status.textContent = progressLine(e, started); } }
    else if (e.kind === "end") { clearInterval(ticking); source.close(); window.location.replace(`/plan/${key}`); }
  };
  document.getElementById("stop").onclick = () => post(`/runs/${key}/stop`).then(() => { stopping = true; live = null; status.textContent = "stopping…"; })
    .catch((error) => { status.textContent = error.message || String(error); });
}

function showPlan(steps, current) {  // a plan's steps and where each stands; the one going now marked
  const list = document.getElementById("plan-steps");
  if (!list) return;
  list.hidden = false;
  list.replaceChildren(...steps.map((s) => {
    const item = el("li", { class: `plan-step state-${s.status}`, "data-n": s.n }, el("strong", { class: "state" }, s.n === current && s.status === "todo" ? "running" : s.status), ` ${s.title}`);
    if (s.files && s.files.length) item.append(el("span", { class: "dim" }, ` · ${s.files.join(", ")}`));
    item.append(el("span", { class: "dim" }, s.check ? ` · check: ${s.check}` : " · review"));
    if (s.status === "failed" && s.reason) item.append(el("span", { class: "error" }, ` — ${s.reason}`));
    if (s.n === current) item.setAttribute("aria-current", "step");
    return item;
  }));
}

const runBox = document.getElementById("run");
if (runBox) {
  const key = runBox.dataset.key, steps = document.getElementById("steps"), status = document.getElementById("status");
  const questionBox = document.getElementById("question"), result = document.getElementById("result");
  const reviewer = makeReview(questionBox, key, post, el, (error) => fail(error));  // static/review.js
  const started = Number(runBox.dataset.started);  // the server's clock: a reload shows the run's true age
  const say = (text) => { status.textContent = text; };
  const progress = (e) => progressLine(e, started);
  const fail = (error) => { const p = el("p", { class: "error", role: "alert" }, error.message || String(error)); questionBox.before(p); setTimeout(() => p.remove(), 8000); };

  let live = null, stopping = false;  // the last progress event: the line keeps counting seconds between events
  const ticking = setInterval(() => { if (live) say(progress(live)); }, 1000);
  const source = new EventSource(`/runs/${key}/events`);
  window.tetherArrivals = [];  // seconds from a step being recorded to it reaching the page (benchmarks/ui.py reads it)
  source.onmessage = (message) => {
    const e = JSON.parse(message.data);
    window.tetherArrivals.push(Date.now() / 1000 - e.ts);
    if (PROGRESS.includes(e.kind)) {
      if (stopping) return;
      live = e;
      say(progress(e));
    } else if (e.kind === "question") {
      live = null;
      say(e.type === "confirm" ? "waiting for your answer" : `waiting for your review: ${e.hunks.length} ${e.hunks.length === 1 ? "hunk" : "hunks"}`);
      showQuestion(e);
    } else if (e.kind === "answered") {
      if (reviewer.active && reviewer.active.id === e.id) reviewer.answered(e.id); else { questionBox.hidden = true; questionBox.replaceChildren(); }
    } else if (e.kind === "decision") {
      reviewer.decision(e);
    } else if (e.kind === "plan") {
      showPlan(e.steps, e.current);
    } else if (e.kind === "end") {
      live = null;
      clearInterval(ticking);
      source.close();
      document.getElementById("stop").disabled = true;
      if (!(reviewer.active && reviewer.active.ended)) questionBox.hidden = true;  // a finished review stays: u still undoes it
      result.hidden = false;
      result.replaceChildren(el("h2", { class: `status-${e.status}`, id: "final" }, e.status), el("p", {}, e.reason || ""));
      if (e.changed && e.changed.length) {
        result.append(el("p", {}, `changed ${e.changed.join(", ")} — `, el("a", { href: "/timeline", id: "to-timeline" }, "undo it from the Timeline"),
                         " · ", el("a", { href: "/ledger" }, "what it cost")));
      }
      if (e.plan) { showPlan(e.plan.steps, null); document.getElementById("plan-again").hidden = false; }  // back to the plan file, to edit
      else if (e.run && !["done", "answered", "proposed"].includes(e.status)) {  // stopped, out of budget, failing: it can go on
        result.append(el("p", {}, el("a", { href: `/replay/${e.run}#resume`, id: "to-resume" }, "Resume it"), " with its conversation, leash and spending"));
      }
      if (e.diff) result.append(diffBlock(e.diff));
      if (e.status === "proposed" && e.answer) result.append(diffBlock(e.answer));
      if (e.status === "answered" && e.answer) result.append(el("pre", {}, e.answer));
      const cached = e.usage && e.usage.cached_tokens ? ` (${e.usage.cached_tokens} read from cache)` : "";
      say(`${e.status}: ${e.steps || 0} ${e.steps === 1 ? "step" : "steps"} · ${e.usage ? e.usage.input_tokens + e.usage.output_tokens : 0} tokens${cached} · ${e.seconds || 0} s`);
    } else {
      const item = el("li", { class: `step step-${e.kind}` }, el("span", { class: "kind" }, e.kind));
      if (e.kind === "diff") item.append(folded(e.diff, "the diff", () => diffBlock(e.diff)));
      else if (e.kind === "reply") item.append(el("span", { class: "dim" }, `${e.model} · ${e.input_tokens}→${e.output_tokens} tokens${e.cached_tokens ? ` (${e.cached_tokens} cached)` : ""}`), folded(e.text, "the reply", () => el("pre", {}, e.text)));
      else if (e.kind === "verify") item.append(el("code", {}, `$ ${e.command}`), ` → ${e.ok ? "ok" : "failed"}`, el("pre", {}, (e.output || "").slice(-3000)));
      else if (e.kind === "tool") item.append(`${e.name} ${e.target} `, e.allowed ? "" : el("strong", { class: "error" }, `refused: ${e.reason}`));
      else item.append(e.text || "");
      steps.append(item);
    }
  };

  document.getElementById("stop").onclick = () => post(`/runs/${key}/stop`).then(() => { stopping = true; live = null; say("stopping…"); }).catch(fail);
  const levelBox = document.getElementById("level");
  let level = levelBox.value;
  levelBox.onchange = () => {  // raising the level past approve takes a yes: no stray key lets changes through unseen
    const wanted = levelBox.value, levels = [...levelBox.options].map((o) => o.value);
    if (levels.indexOf(wanted) > levels.indexOf("approve") && levels.indexOf(wanted) > levels.indexOf(level)
        && !window.confirm(`Let the agent apply its changes without your review (level ${wanted}) from the next step?`)) {
      levelBox.value = level;
      return;
    }
    post(`/runs/${key}/level`, { level: wanted }).then(() => { level = wanted; steps.append(el("li", { class: "step" }, `level → ${wanted} from the next step`)); })
      .catch((error) => { levelBox.value = level; fail(error); });
  };

  function showQuestion(q) {
    if (q.type !== "confirm") return reviewer.show(q);
    questionBox.hidden = false;
    const yes = el("button", { id: "yes" }, "Allow"), no = el("button", { id: "no" }, "Refuse");
    yes.onclick = () => post(`/runs/${key}/confirm`, { id: q.id, yes: true }).catch(fail);
    no.onclick = () => post(`/runs/${key}/confirm`, { id: q.id, yes: false }).catch(fail);
    questionBox.replaceChildren(el("p", {}, q.text), yes, no);
  }

  const keysBox = document.getElementById("keys"), keysButton = document.getElementById("show-keys");
  function toggleKeys(open = keysBox.hidden) {
    keysBox.hidden = !open;
    keysButton.setAttribute("aria-expanded", String(open));
  }
  keysButton.onclick = (ev) => { ev.stopPropagation(); toggleKeys(); };
  document.getElementById("close-keys").onclick = () => toggleKeys(false);
  document.addEventListener("click", (ev) => { if (!keysBox.hidden && !keysBox.contains(ev.target)) toggleKeys(false); });
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.target === levelBox && /^[a-z?]$/.test(ev.key)) { ev.preventDefault(); levelBox.blur(); }  // a review key, not the select's type-to-pick
    else if (ev.target.matches("input, textarea, select")) return;
    if (ev.key === "Escape" && !keysBox.hidden) return toggleKeys(false);
    if (ev.key === "?") return toggleKeys();
    reviewer.onKey(ev);
  });
}
