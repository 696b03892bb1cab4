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

const runBox = document.getElementById("run");
if (runBox) {
  const key = runBox.dataset.key, steps = document.getElementById("steps"), status = document.getElementById("status");
  const questionBox = document.getElementById("question"), result = document.getElementById("result");
  let review = null;
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
      showQuestion(e);
    } else if (e.kind === "answered") {
      questionBox.hidden = true; questionBox.replaceChildren(); review = null;
    } else if (e.kind === "decision") {
      if (review && review.id === e.id) {  // stored, by this tab or another
        review.stored = e.taken;  // while this tab's own decisions are on their way, its view is newer (an undo stays undone)
        if (!inflight) review.taken = review.taken.map((t, i) => (t === null ? e.taken[i] : t));
        mark();
      }
    } else if (e.kind === "end") {
      live = null;
      clearInterval(ticking);
      source.close();
      document.getElementById("stop").disabled = true;
      questionBox.hidden = true;
      result.hidden = false;
      result.replaceChildren(el("h2", { class: `status-${e.status}`, id: "final" }, e.status), el("p", {}, e.reason || ""));
      if (e.changed && e.changed.length) {
        result.append(el("p", {}, `changed ${e.changed.join(", ")} — `, el("a", { href: "/timeline", id: "to-timeline" }, "undo it from the Timeline"),
                         " · ", el("a", { href: "/ledger" }, "what it cost")));
      }
      if (e.diff) result.append(diffBlock(e.diff));
      if (e.status === "proposed" && e.answer) result.append(diffBlock(e.answer));
      if (e.status === "answered" && e.answer) result.append(el("pre", {}, e.answer));
      const cached = e.usage && e.usage.cached_tokens ? ` (${e.usage.cached_tokens} read from cache)` : "";
      say(`${e.status}: ${e.steps || 0} steps · ${e.usage ? e.usage.input_tokens + e.usage.output_tokens : 0} tokens${cached} · ${e.seconds || 0} s`);
    } else {
      const item = el("li", { class: `step step-${e.kind}` }, el("span", { class: "kind" }, e.kind));
      if (e.kind === "diff") item.append(diffBlock(e.diff));
      else if (e.kind === "reply") item.append(el("span", { class: "dim" }, `${e.model} · ${e.input_tokens}→${e.output_tokens} tokens${e.cached_tokens ? ` (${e.cached_tokens} cached)` : ""}`), el("pre", {}, e.text));
      else if (e.kind === "verify") item.append(el("code", {}, `$ ${e.command}`), ` → ${e.ok ? "ok" : "failed"}`, el("pre", {}, (e.output || "").slice(-3000)));
      else if (e.kind === "tool") item.append(`${e.name} ${e.target} `, e.allowed ? "" : el("strong", { class: "error" }, `refused: ${e.reason}`));
      else item.append(e.text || "");
      steps.append(item);
    }
  };

  document.getElementById("stop").onclick = () => post(`/runs/${key}/stop`).then(() => { stopping = true; live = null; say("stopping…"); }).catch(fail);
  document.getElementById("level").onchange = (ev) => post(`/runs/${key}/level`, { level: ev.target.value })
    .then(() => steps.append(el("li", { class: "step" }, `level → ${ev.target.value} from the next step`))).catch(fail);

  function showQuestion(q) {
    questionBox.hidden = false;
    questionBox.replaceChildren();
    if (q.type === "confirm") {
      const yes = el("button", { id: "yes" }, "Allow"), no = el("button", { id: "no" }, "Refuse");
      yes.onclick = () => post(`/runs/${key}/confirm`, { id: q.id, yes: true }).catch(fail);
      no.onclick = () => post(`/runs/${key}/confirm`, { id: q.id, yes: false }).catch(fail);
      questionBox.append(el("p", {}, q.text), yes, no);
      return;
    }
    review = { id: q.id, hunks: q.hunks, taken: [...q.taken], stored: [...q.taken], current: 0, side: false, order: [] };
    questionBox.append(el("h2", {}, `Review: ${q.hunks.length} hunks — j/k move, y/n decide, e edit, a accept file, u undo, ? keys`));
    paint();
  }

  function paint() {  // every hunk drawn once; a decision or a move then only marks boxes (see mark)
    const boxes = review.hunks.map((h, n) => {
      const box = el("div", { class: "hunk-box", id: `hunk-${n}` }, el("h3", {}, `${h.path}:${h.line} — hunk ${n + 1} of ${review.hunks.length}`));
      if (review.side) {
        const side = (text, mark) => text.split("\n").slice(0, -1).map((l) => mark + l);
        box.append(el("div", { class: "side" }, diffBlock([...side(h.before, " "), ...side(h.old, "-"), ...side(h.after, " ")].join("\n")),
                                                diffBlock([...side(h.before, " "), ...side(h.new, "+"), ...side(h.after, " ")].join("\n"))));
      } else {
        const lines = [...h.before.split("\n").slice(0, -1).map((l) => " " + l), ...h.old.split("\n").slice(0, -1).map((l) => "-" + l),
                       ...h.new.split("\n").slice(0, -1).map((l) => "+" + l), ...h.after.split("\n").slice(0, -1).map((l) => " " + l)];
        box.append(diffBlock(lines.join("\n")));
      }
      return box;
    });
    const head = questionBox.querySelector("h2");
    questionBox.replaceChildren(head, ...boxes);
    review.boxes = boxes;
    mark();
  }

  function mark() {
    review.boxes.forEach((box, n) => {
      const state = review.taken[n] === true ? "taken" : review.taken[n] === false ? "rejected" : "";
      const cls = `hunk-box${state ? " " + state : ""}${n === review.current ? " current" : ""}`;
      if (box.className !== cls) box.className = cls;
      if (box.dataset.decision !== String(review.taken[n])) box.dataset.decision = String(review.taken[n]);
      if (box.dataset.stored !== String(review.stored[n])) box.dataset.stored = String(review.stored[n]);
    });
    const current = review.boxes[review.current];
    if (current) current.scrollIntoView({ block: "nearest" });
  }

  // A decision shows at the key press and moves on; the server stores decisions one at a time, in
  // the order they were made (data-stored shows what it holds), and a refused one is taken back.
  let sending = Promise.resolve();
  let inflight = 0;
  function decide(n, taken, text) {
    const body = { id: review.id, hunk: n, taken };
    if (text !== undefined) body.new = text;
    const before = review.taken[n];
    review.taken[n] = taken;
    if (taken !== null) review.order.push(n);
    const next = review.taken.findIndex((t) => t === null);
    if (next >= 0 && taken !== null) review.current = next;
    mark();
    inflight += 1;
    const mine = review;  // the review may end (the last decision answers it) before the server replies
    sending = sending.then(() => post(`/runs/${key}/decide`, body)).then((state) => { if (review === mine) { review.stored = state.taken; mark(); } })
      .catch((error) => {
        if (review !== mine) return fail(error);
        review.taken[n] = before;
        if (taken !== null) review.order = review.order.filter((x) => x !== n);
        mark();
        fail(error);
      })
      .finally(() => { inflight -= 1; });
    return sending;
  }

  function editHunk(n) {
    const h = review.hunks[n];
    const area = el("textarea", { rows: String(Math.max(4, h.new.split("\n").length + 1)), id: "hunk-editor" });
    area.value = h.new;
    const save = el("button", { id: "save-edit" }, "Accept as edited");
    const box = document.getElementById(`hunk-${n}`);
    box.append(area, save);
    area.focus();
    save.onclick = () => { h.new = area.value; area.remove(); save.remove(); decide(n, true, area.value); paint(); };
    area.onkeydown = (ev) => { if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) save.onclick(); ev.stopPropagation(); };
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.target.matches("input, textarea, select")) return;
    if (ev.key === "?") { document.getElementById("keys").hidden = !document.getElementById("keys").hidden; return; }
    if (!review) return;
    const n = review.current, path = review.hunks[n].path;
    if (ev.key === "j") { review.current = Math.min(review.hunks.length - 1, n + 1); mark(); }
    else if (ev.key === "k") { review.current = Math.max(0, n - 1); mark(); }
    else if (ev.key === "y") decide(n, true);
    else if (ev.key === "n") decide(n, false);
    else if (ev.key === "e") { ev.preventDefault(); editHunk(n); }
    else if (ev.key === "s") { review.side = !review.side; paint(); }
    else if (ev.key === "u") { const last = review.order.pop(); if (last !== undefined) { review.current = last; decide(last, null); } }
    else if (ev.key === "a") {
      const todo = review.hunks.map((h, i) => i).filter((i) => review.hunks[i].path === path && review.taken[i] === null);
      todo.forEach((i) => decide(i, true));
    }
  });
}
