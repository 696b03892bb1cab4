// tether ui: a proposal reviewed hunk by hunk, by keyboard. The rows of code come coloured from the
// server (web/diffview.py escapes every character of the file and adds only token spans and word
// marks); paths, numbers and everything else go on the page as text.
"use strict";

const SIGN = { " ": "ctx", "-": "del", "+": "add", "~": "pad" };
const esc = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);  // a path or a title as text inside markup

function rowsHtml(rows, side) {  // side: "old" or "new" shows one number; undefined shows both
  // numbers and signs are drawn by the stylesheet from data-o / data-n (so a copy of the code holds only code)
  return rows.map(([sign, o, n, html]) => {
    const old = side === "new" || !Number.isInteger(o) ? "" : o, now = side === "old" || !Number.isInteger(n) ? "" : n;
    return `<div class="row ${SIGN[sign] || "ctx"}" data-o="${old}" data-n="${now}">${html}</div>`;
  }).join("");
}

function sideBySide(rows) {  // removed lines on the left, added on the right, each change block aligned
  const left = [], right = [];
  let gone = [], came = [];
  const flush = () => {
    for (let i = 0; i < Math.max(gone.length, came.length); i++) { left.push(gone[i] || ["~", null, null, ""]); right.push(came[i] || ["~", null, null, ""]); }
    gone = []; came = [];
  };
  for (const r of rows) { if (r[0] === "-") gone.push(r); else if (r[0] === "+") came.push(r); else { flush(); left.push(r); right.push(r); } }
  flush();
  return [left, right];
}

// eslint-disable-next-line no-unused-vars
function makeReview(box, key, post, el, fail) {
  window.tetherStored = [];
  let review = null;
  let sending = Promise.resolve(), inflight = 0;

  function show(q) {
    const files = [...new Set(q.hunks.map((h) => h.path))];
    review = { id: q.id, hunks: q.hunks, taken: [...q.taken], stored: [...q.taken], current: 0, side: false, order: [], files, ended: false };
    const head = el("h2", { id: "review-head" }, `Review: ${q.hunks.length} ${q.hunks.length === 1 ? "hunk" : "hunks"} in ${files.length} ${files.length === 1 ? "file" : "files"}`);
    const help = el("p", { class: "dim", id: "review-keys" }, "j/k move · y accept · n reject · e edit · a accept the file · u undo · s side by side · ? keys");
    review.filesNav = filesNav();
    review.list = el("div", { id: "hunks" });
    review.list.onclick = (ev) => {
      const fold = ev.target.closest("button.fold"), act = ev.target.closest("button[data-act]");
      if (fold) unfold(fold);
      if (act && !review.ended) { review.current = Number(act.dataset.hunk); onKey({ key: act.dataset.act, preventDefault() {} }); }
    };
    const side = el("button", { type: "button", id: "side-by-side" }, "Side by side");
    side.onclick = () => { review.side = !review.side; side.textContent = review.side ? "Unified" : "Side by side"; paint(); };
    review.banner = el("p", { id: "reviewed", role: "status", hidden: "" });
    box.hidden = false;
    box.replaceChildren(head, help, side, review.filesNav, review.list, review.banner);
    paint();
  }

  function filesNav() {  // per file: its size of change and how far its review has come
    const table = el("table", { id: "files" });
    review.fileRows = review.files.map((path) => {
      const members = review.hunks.filter((h) => h.path === path);
      const jump = el("button", { class: "link", type: "button" }, path);
      jump.onclick = () => { review.current = members[0].n; mark(true); };
      const state = el("td", { class: "state" });
      const added = el("td", { class: "num add" }, `+${members.reduce((s, h) => s + h.added, 0)}`);
      const removed = el("td", { class: "num del" }, `−${members.reduce((s, h) => s + h.removed, 0)}`);
      table.append(el("tr", {}, el("td", {}, jump), added, removed, state));
      return { path, members: members.map((h) => h.n), state, added, removed };
    });
    return table;
  }

  function boxHtml(h, filled) {  // one string for every box: the page takes them in at once
    const shell = `<h3>${esc(`${h.path}:${Number(h.line)} — hunk ${Number(h.n) + 1} of ${review.hunks.length}`)}</h3>`;  // its buttons come with its rows
    return `<div class="hunk-box" id="hunk-${Number(h.n)}" tabindex="-1">${filled ? innerHtml(h) : shell}</div>`;
  }

  function titleHtml(h) {  // the buttons do what y, n and e do, for a mouse
    const n = Number(h.n);
    return `<h3><span>${esc(`${h.path}:${Number(h.line)} — hunk ${n + 1} of ${review.hunks.length}${h.edited ? " (edited by you)" : ""}`)}</span>`
      + `<span class="state-tag"></span><span class="acts"><button type="button" data-act="y" data-hunk="${n}">Accept</button>`
      + `<button type="button" data-act="n" data-hunk="${n}">Reject</button><button type="button" data-act="e" data-hunk="${n}">Edit</button></span></h3>`;
  }

  function innerHtml(h) {
    let body;
    if (review.side) {
      const [left, right] = sideBySide(h.rows);
      body = `<div class="side"><div class="diff old">${rowsHtml(left, "old")}</div><div class="diff new">${rowsHtml(right, "new")}</div></div>`;
    } else body = `<div class="diff">${rowsHtml(h.rows)}</div>`;
    const above = h.above ? foldHtml(h.n, "above", h.above) : "", below = h.below ? foldHtml(h.n, "below", h.below) : "";
    return `${titleHtml(h)}${above}${body}${below}`;
  }

  function fill(n) {  // a box's rows, once
    const b = review.boxes[n];
    if (b && !b.dataset.filled) { b.innerHTML = innerHtml(review.hunks[n]); b.dataset.filled = "1"; }
  }

  const foldLabel = (left, where) => `⋯ ${left} unchanged ${left === 1 ? "line" : "lines"} ${where} — show`;
  function foldHtml(n, where, count) {
    return `<button class="fold" type="button" data-hunk="${Number(n)}" data-where="${where}" data-left="${Number(count)}" data-shown="0">${foldLabel(Number(count), where)}</button>`;
  }

  function unfold(button) {  // the next folded lines, nearest the hunk first
    const { hunk, where } = button.dataset, shown = Number(button.dataset.shown), left = Number(button.dataset.left);
    post(`/runs/${key}/unfold`, { id: review.id, hunk: Number(hunk), where, shown }).then(({ rows }) => {
      const more = el("div", { class: "diff unfolded" });
      more.innerHTML = rowsHtml(rows);
      if (where === "above") button.after(more); else button.before(more);
      button.dataset.shown = String(shown + rows.length);
      button.dataset.left = String(left - rows.length);
      if (left - rows.length <= 0 || !rows.length) button.remove(); else button.textContent = foldLabel(left - rows.length, where);
    }).catch(fail);
  }

  const FIRST = 12;  // hunks drawn before the first frame; the rest follow a batch a task
  function paint() {  // every hunk drawn once; a decision or a move then only marks boxes (see mark)
    review.list.innerHTML = review.hunks.map((h) => boxHtml(h, false)).join("");
    review.boxes = [...review.list.children];
    review.list.dataset.filled = "";
    if (review.seen) review.seen.disconnect();
    review.inView = new Set();  // the boxes wholly on screen, as the browser says after each frame
    review.seen = new IntersectionObserver((entries) => {
      for (const e of entries) { if (e.intersectionRatio >= 0.99) review.inView.add(e.target); else review.inView.delete(e.target); }
    }, { threshold: [0, 0.99] });
    review.boxes.forEach((b) => review.seen.observe(b));
    for (let n = 0; n < Math.min(FIRST, review.boxes.length); n++) fill(n);
    mark(false);  // the first hunk is in view: scrolling would lay out all of them before the first frame
    const mine = review.painted = (review.painted || 0) + 1;
    let at = FIRST;
    const batch = () => {
      if (review.painted !== mine) return;  // painted again since (s)
      for (const end = Math.min(at + 20, review.boxes.length); at < end; at++) fill(at);
      if (at < review.boxes.length) setTimeout(batch, 0); else review.list.dataset.filled = "all";
    };
    setTimeout(batch, 0);
  }

  function mark(scroll) {
    review.boxes.forEach((b, n) => {
      const state = review.taken[n] === true ? "taken" : review.taken[n] === false ? "rejected" : "";
      const cls = `hunk-box${state ? " " + state : ""}${n === review.current ? " current" : ""}`;
      if (b.className !== cls) b.className = cls;  // the stylesheet says the state in words too (.state-tag)
      if (b.dataset.decision !== String(review.taken[n])) b.dataset.decision = String(review.taken[n]);
      if (b.dataset.stored !== String(review.stored[n])) b.dataset.stored = String(review.stored[n]);
    });
    for (const f of review.fileRows) {
      const taken = f.members.filter((n) => review.taken[n] === true).length, left = f.members.filter((n) => review.taken[n] === false).length;
      const open = f.members.length - taken - left;
      const text = open ? `${taken + left} of ${f.members.length} decided` : `${taken} taken · ${left} rejected`;
      if (f.state.textContent !== text) { f.state.textContent = text; f.state.className = `state${open ? "" : " decided"}`; }
    }
    const current = review.boxes[review.current];
    fill(review.current);
    if (current && scroll && !review.inView.has(current)) current.scrollIntoView({ block: "nearest" });  // one in view stays: no layout forced
  }

  // A decision shows at the key press and moves on; the server stores decisions one at a time, in
  // the order they were made (data-stored shows what it holds), and a refused one is taken back.
  function decide(n, taken, text) {
    const body = { id: review.id, hunk: n, taken };
    if (text !== undefined) body.new = text;
    const before = review.taken[n];
    review.taken[n] = taken;
    if (taken !== null) review.order.push(n);
    const next = review.taken.findIndex((t) => t === null);
    if (next >= 0 && taken !== null) review.current = next;
    mark(true);
    inflight += 1;
    const mine = review;  // the review may end (the last decision answers it) before the server replies
    const pressed = performance.now();
    sending = sending.then(() => post(`/runs/${key}/decide`, body)).then((state) => {
      window.tetherStored.push(performance.now() - pressed);  // ms from the key to the server's answer (benchmarks/ui.py reads it)
      if (review !== mine || mine.ended) return;
      review.stored = state.taken;
      if (state.edited) replace(state.edited);
      mark();
    }).catch((error) => {
      if (review !== mine || mine.ended) return fail(error);
      review.taken[n] = before;
      if (taken !== null) review.order = review.order.filter((x) => x !== n);
      mark();
      fail(error);
    }).finally(() => { inflight -= 1; });
    return sending;
  }

  function replace(h) {  // a hunk as the server has it now (after a person's edit, coloured again)
    review.hunks[h.n] = h;
    review.boxes[h.n].innerHTML = innerHtml(h);
    review.boxes[h.n].dataset.filled = "1";
    const row = review.fileRows.find((f) => f.path === h.path);
    const members = review.hunks.filter((x) => x.path === h.path);
    row.added.textContent = `+${members.reduce((s, x) => s + x.added, 0)}`;
    row.removed.textContent = `−${members.reduce((s, x) => s + x.removed, 0)}`;
    mark();
  }

  function editHunk(n) {
    const h = review.hunks[n];
    const area = el("textarea", { rows: String(Math.max(4, h.new.split("\n").length + 1)), id: "hunk-editor", "aria-label": `new text of hunk ${n + 1}` });
    area.value = h.new;
    const save = el("button", { id: "save-edit", type: "button" }, "Accept as edited");
    const cancel = el("button", { id: "cancel-edit", type: "button" }, "Cancel");
    const hint = el("span", { class: "dim" }, " Ctrl+Enter accepts · Esc cancels");
    review.boxes[n].append(area, save, cancel, hint);
    area.focus();
    const close = () => { area.remove(); save.remove(); cancel.remove(); hint.remove(); review.boxes[n].focus(); };
    save.onclick = () => { close(); decide(n, true, area.value); };
    cancel.onclick = close;
    area.onkeydown = (ev) => {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) save.onclick();
      else if (ev.key === "Escape") cancel.onclick();
      ev.stopPropagation();
    };
  }

  function ended() {  // every hunk decided: the page keeps the review, says what happened, and u takes it back
    review.ended = true;
    const taken = review.taken.filter((t) => t === true).length;
    review.banner.hidden = false;
    review.banner.className = "reviewed";
    review.banner.textContent = taken
      ? `Applied ${taken} of ${review.hunks.length} ${review.hunks.length === 1 ? "hunk" : "hunks"}. Press u or z to undo this run's change (it stops the run).`
      : "You rejected every hunk; nothing was applied.";
  }

  function undoApplied() {
    if (review.undoing || !review.taken.some((t) => t === true)) return;
    review.undoing = true;
    review.banner.textContent = "undoing…";
    post(`/runs/${key}/undo`).then(({ message }) => { review.banner.textContent = message; review.list.classList.add("undone"); })
      .catch((error) => { review.undoing = false; review.banner.textContent = error.message || String(error); });
  }

  function onKey(ev) {
    if (!review) return;
    const n = review.current, path = review.hunks[n].path;
    if (ev.key === "j") { review.current = Math.min(review.hunks.length - 1, n + 1); mark(true); }
    else if (ev.key === "k") { review.current = Math.max(0, n - 1); mark(true); }
    else if (ev.key === "s") { review.side = !review.side; paint(); }
    else if (review.ended) { if (ev.key === "u" || ev.key === "z") undoApplied(); }
    else if (ev.key === "y") decide(n, true);
    else if (ev.key === "n") decide(n, false);
    else if (ev.key === "e") { ev.preventDefault(); editHunk(n); }
    else if (ev.key === "u" || ev.key === "z") { const last = review.order.pop(); if (last !== undefined) { review.current = last; decide(last, null); } }
    else if (ev.key === "a") review.hunks.filter((h) => h.path === path && review.taken[h.n] === null).forEach((h) => decide(h.n, true));
  }

  function decision(e) {  // stored, by this tab or another
    if (!review || review.id !== e.id || review.ended) return;
    review.stored = e.taken;  // while this tab's own decisions are on their way, its view is newer (an undo stays undone)
    if (!inflight) review.taken = review.taken.map((t, i) => (t === null ? e.taken[i] : t));
    if (e.edited && e.edited.new !== review.hunks[e.edited.n].new) replace(e.edited);
    mark();
  }

  return {
    show, onKey, decision,
    answered(id) { if (review && review.id === id && !review.ended) { review.taken = review.taken.map((t, i) => (t === null ? review.stored[i] : t)); mark(); ended(); } },
    get active() { return review; },
  };
}
