// Overlay's chat page: plain JS against the public API (no build step).
// Conversations live in localStorage; each one is a session (X-Session-Id) on the server,
// so its memory panel shows what the server remembers of it.
"use strict";

const $ = (id) => document.getElementById(id);
const STORE = "overlay.conversations";
const KEY = "overlay.apiKey";
let conversations = JSON.parse(localStorage.getItem(STORE) || "[]");
let current = null;
let busy = false;
const KINDS = { span: "quoted from the source", sentence: "sentence from the source",
  generated: "generated from the source", fallback: "sentence from the source" };
// why a turn abstained (overlay.abstained_by; overlay/record.py ABSTENTIONS, in a user's words)
const WHY = {
  no_passages: "Nothing in this collection matched the question.",
  gate: "The passages found do not look like they hold the answer.",
  threshold: "No passage found matched the question closely enough.",
  judged: "The passages read do not answer this question.",
  wrong_kind: "The passages found answer something else than what was asked.",
  no_text: "The passages found hold no text to read.",
};

function save() { localStorage.setItem(STORE, JSON.stringify(conversations)); }
function newId() { return "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8); }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- the API, asking for a key when the server wants one ----------------------------
function headers(extra) {
  const h = Object.assign({ "Content-Type": "application/json" }, extra || {});
  const key = localStorage.getItem(KEY);
  if (key) h.Authorization = "Bearer " + key;
  return h;
}
function askForKey() {
  return new Promise((resolve) => {
    const dialog = $("key-dialog");
    dialog.addEventListener("close", () => {
      const key = $("key").value.trim();
      if (key) localStorage.setItem(KEY, key);
      resolve(Boolean(key));
    }, { once: true });
    dialog.showModal();
  });
}
async function api(path, options, retried) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const r = await fetch(path, opts);
  if (r.status === 401 && !retried) {
    localStorage.removeItem(KEY);
    if (await askForKey()) return api(path, options, true);
  }
  return r;
}
async function errorText(r) {
  try { return (await r.json()).error.message; } catch (e) { return "HTTP " + r.status; }
}

// --- pickers --------------------------------------------------------------------------
async function loadPickers() {
  const models = await api("/v1/models");
  if (models.ok) {
    const select = $("adapter");
    select.replaceChildren();
    for (const m of (await models.json()).data) {
      if (m.kind !== "chat") continue;
      const label = m.id === "overlay" ? "base model" : m.id.replace(/^overlay:/, "");
      const o = el("option", null, label); o.value = m.id; select.append(o);
    }
  }
  const cols = await api("/v1/collections");
  if (cols.ok) {
    const body = await cols.json();
    const select = $("collection");
    select.replaceChildren();
    for (const c of body.collections) {
      const o = el("option", null, c); o.value = c; o.selected = c === body.default; select.append(o);
    }
  }
}

// --- conversations ---------------------------------------------------------------------
function renderList() {
  const ul = $("conversations");
  ul.replaceChildren();
  for (const c of conversations) {
    const li = el("li", c === current ? "active" : "", c.title || "New chat");
    li.dataset.id = c.id;
    li.onclick = () => { select(c); $("sidebar").classList.remove("open"); };
    ul.append(li);
  }
}
function select(c) {
  current = c;
  const box = $("messages");
  box.replaceChildren();
  for (const m of c.messages) box.append(renderMessage(m));
  renderList();
  if (!$("memory").hidden) loadMemory();
}
function startConversation() {
  $("sidebar").classList.remove("open");
  const c = { id: newId(), title: "", messages: [] };
  conversations.unshift(c); save(); select(c);
  $("question").focus();
}

// --- messages ------------------------------------------------------------------------
function renderMessage(m) {
  const div = el("div", "msg " + m.role + (m.abstained ? " abstained" : "") + (m.forgotten ? " forgotten" : ""));
  const role = el("div", "role", m.role === "user" ? "You" : "Overlay");
  if (m.kind) {
    const badge = el("span", "badge" + (m.abstained ? " abstained" : ""),
      m.abstained ? "no answer in your documents" : (KINDS[m.kind] || m.kind));
    badge.title = "answer kind: " + m.kind;
    role.append(badge);
  }
  div.append(role);
  const text = el("div", "text", m.content);
  div.append(text);
  div.textNode = text;
  if (m.abstained && WHY[m.why]) div.append(el("div", "hint why", WHY[m.why]));
  if (m.citations && m.citations.length) div.append(renderCitations(m.citations, m.kind));
  if (m.turnId) div.append(renderFeedback(m));
  if (m.error) div.append(el("div", "error", m.error));
  if (m.forgotten) div.append(el("div", "hint", "Deleted from memory: no longer sent as history."));
  return div;
}
function renderCitations(citations, kind) {
  const ul = el("ul", "citations");
  citations.forEach((c, i) => {
    const li = el("li", "citation");
    const b = el("button", "source", "[" + (i + 1) + "] " + c.source);
    b.type = "button";
    b.title = "Show the passage";
    const passage = renderPassage(c.text, c.quote);
    passage.hidden = true;
    b.onclick = () => {
      passage.hidden = !passage.hidden;
      const mark = passage.querySelector("mark");
      if (!passage.hidden && mark) mark.scrollIntoView({ block: "nearest" });
    };
    li.append(b);
    // a short span's sentence, so the reader sees what it was read from
    if (c.quote && kind === "span") li.append(el("q", "quote", c.quote.split(/\s+/).join(" ")));
    li.append(passage);
    ul.append(li);
  });
  return ul;
}
// The cited passage, the sentence the answer rests on (quote: its exact words) marked.
function renderPassage(text, quote) {
  const passage = el("div", "passage");
  const at = quote ? text.indexOf(quote) : -1;
  if (at < 0) { passage.textContent = text; return passage; }
  passage.append(text.slice(0, at), el("mark", "", quote), text.slice(at + quote.length));
  return passage;
}
function renderFeedback(m) {
  const div = el("div", "feedback");
  const status = el("span", "thanks", m.voted ? "Thanks for the feedback" : "");
  for (const [label, helpful] of [["Helpful", true], ["Not helpful", false]]) {
    const b = el("button", "vote", label);
    b.type = "button";
    b.onclick = async () => {
      const r = await api("/v1/feedback", { method: "POST", body: JSON.stringify({ turn_id: m.turnId, helpful }) });
      status.textContent = r.ok ? "Thanks for the feedback" : await errorText(r);
      status.className = r.ok ? "thanks" : "error";
      if (r.ok) { m.voted = true; save(); }
    };
    div.append(b);
  }
  div.append(status);
  return div;
}

// --- a streamed turn -------------------------------------------------------------------
async function send(question) {
  const c = current;
  const history = c.messages.filter((m) => !m.error && !m.forgotten).map((m) => ({ role: m.role, content: m.content }));
  const user = { role: "user", content: question };
  c.messages.push(user);
  if (!c.title) c.title = question.slice(0, 60);
  save(); renderList();
  $("messages").append(renderMessage(user));
  const answer = { role: "assistant", content: "" };
  const div = renderMessage(answer);
  div.classList.add("streaming");
  $("messages").append(div);
  const body = {
    model: $("adapter").value || "overlay", collection: $("collection").value || undefined,
    messages: [...history, user], stream: true, stream_options: { include_usage: true },
  };
  try {
    const r = await api("/v1/chat/completions", {
      method: "POST", body: JSON.stringify(body), headers: { "X-Session-Id": c.id },
    });
    if (!r.ok) throw new Error(await errorText(r));
    await readStream(r, (chunk) => onChunk(chunk, answer, div));
  } catch (e) {
    answer.error = e.message;
  }
  c.messages.push(answer); save();
  div.replaceWith(renderMessage(answer));
  $("messages").lastChild.scrollIntoView({ block: "end" });
  if (!$("memory").hidden) loadMemory();
}
function onChunk(chunk, answer, div) {
  if (chunk.error) throw new Error(chunk.error.message);
  for (const choice of chunk.choices || []) {
    const piece = choice.delta && choice.delta.content;
    if (piece) { answer.content += piece; div.textNode.textContent = answer.content; }
  }
  if (chunk.overlay) {
    answer.citations = chunk.overlay.citations;
    answer.abstained = chunk.overlay.abstained;
    answer.why = chunk.overlay.abstained_by;
    answer.kind = chunk.overlay.answer_kind;
    answer.turnId = chunk.overlay.turn_id;
  }
  if (chunk.usage) answer.usage = chunk.usage;
}
async function readStream(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

// --- memory panel ------------------------------------------------------------------------
// Facts and turns the server holds for this conversation; each can be deleted, a fact corrected
// (PATCH keeps its old value in the history). Everything is rendered as text, never as HTML.
let shownFacts = [];
function sessionPath(suffix) { return "/v1/sessions/" + encodeURIComponent(current.id) + (suffix || ""); }
function factPath(f) { return sessionPath("/facts/" + encodeURIComponent(f.key)); }
function factName(f) { return f.key.startsWith("note:") ? "note" : f.key; }
function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : ""; }
function say(text, isError) {
  const status = $("memory-status");
  status.textContent = text || "";
  status.className = isError ? "error" : "hint";
}
function button(label, cls, onclick, aria) {
  const b = el("button", cls, label);
  b.type = "button";
  b.onclick = onclick;
  if (aria) b.setAttribute("aria-label", aria);
  return b;
}
async function loadMemory(note, isError) {
  const c = current;
  if (!c) return null;
  const r = await api(sessionPath());
  let s = null, empty = "";
  if (r.ok) s = await r.json();
  else if (r.status === 404) empty = "Nothing remembered yet.";
  else { note = await errorText(r); isError = true; }
  if (c !== current) return null;  // another conversation was picked meanwhile
  const facts = s ? s.facts.map(renderFact) : [];
  if (s && !facts.length) facts.push(el("li", "hint", "none"));
  $("facts").replaceChildren(...facts);
  $("turns").replaceChildren(...(s ? s.turns.map(renderTurn) : []));
  shownFacts = s ? s.facts : [];
  say(note || empty, isError);
  return s;
}
function renderFact(f) {
  const li = el("li", "fact");
  li.dataset.key = f.key;
  const what = el("span", "what");
  what.append(el("span", "key", factName(f)), el("span", "value", f.value));
  what.title = f.text + (f.ts ? " · " + when(f.ts) : "");
  const actions = el("span", "actions");
  actions.append(
    button("Edit", "edit", () => editFact(li, f), "Correct " + factName(f)),
    button("Delete", "delete", () => confirmDelete(li, "Delete this fact?", () => deleteFact(f)),
      "Delete " + factName(f)));
  const row = el("div", "item");
  row.append(what, actions);
  li.append(row);
  if (f.history.length) {
    const values = [...f.history.map((h) => h.value), f.value];
    const history = el("div", "history", "history: " + values.join(" → "));
    history.title = f.history.map((h) => h.value + (h.ts ? " until " + when(h.ts) : "")).join("\n");
    li.append(history);
  }
  return li;
}
function renderTurn(t) {
  const li = el("li", "turn " + t.role);
  li.dataset.id = t.id;
  const what = el("span", "what", (t.role === "user" ? "You: " : "Overlay: ") + t.text);
  what.title = when(t.ts);
  const actions = el("span", "actions");
  actions.append(button("Delete", "delete",
    () => confirmDelete(li, "Delete this turn from memory?", () => deleteTurn(t)), "Delete turn " + t.id));
  const row = el("div", "item");
  row.append(what, actions);
  li.append(row);
  return li;
}
// A destructive action asks once, inline: "Delete this fact? [Delete] [Cancel]".
function confirmDelete(li, question, action) {
  if (li.querySelector(".confirm")) return;
  say("");  // an earlier note is stale once the next action starts
  const bar = el("div", "confirm");
  const cancel = () => { bar.remove(); li.classList.remove("confirming"); };
  const yes = button("Delete", "danger", async () => { yes.disabled = true; await action(); });
  bar.append(el("span", null, question), yes, button("Cancel", "cancel", cancel));
  bar.onkeydown = (e) => { if (e.key === "Escape") cancel(); };
  li.classList.add("confirming");
  li.append(bar);
  yes.focus();
}
function editFact(li, f) {
  say("");
  const form = el("form", "edit");
  const input = el("input");
  input.value = f.value;
  input.maxLength = 4000;
  input.setAttribute("aria-label", "New value of " + factName(f));
  const shown = [...li.childNodes];
  const back = () => { li.classList.remove("editing"); li.replaceChildren(...shown); };
  const cancel = button("Cancel", "cancel", back);
  const saveButton = el("button", "save", "Save");
  saveButton.type = "submit";
  form.append(el("span", "key", factName(f)), input, saveButton, cancel);
  input.onkeydown = (e) => { if (e.key === "Escape") { e.preventDefault(); back(); } };
  form.onsubmit = async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    if (!value) { say("A fact needs a value; delete it instead to drop it.", true); input.focus(); return; }
    if (value === f.value) { back(); return; }
    saveButton.disabled = true;
    const r = await api(factPath(f), { method: "PATCH", body: JSON.stringify({ value }) });
    if (r.ok) {
      const fact = (await r.json()).fact;
      await loadMemory("Corrected " + factName(f) + ": " + f.value + " → " + fact.value +
        " (the old value stays in its history).");
    } else if (r.status === 404) {
      await loadMemory(await errorText(r), true);  // gone meanwhile: show what is there now
    } else {
      say(await errorText(r), true);
      saveButton.disabled = false;
      input.focus();
    }
  };
  li.classList.add("editing");
  li.replaceChildren(form);
  input.focus();
  input.select();
}
async function deleteFact(f) {
  const r = await api(factPath(f), { method: "DELETE" });
  const note = r.ok ? "Deleted the fact " + factName(f) + " (" + f.value + ")." : await errorText(r);
  await loadMemory(note, !r.ok);
}
async function deleteTurn(t) {
  const before = shownFacts.map((f) => f.key);
  const r = await api(sessionPath("/turns/" + encodeURIComponent(t.id)), { method: "DELETE" });
  if (!r.ok) { await loadMemory(await errorText(r), true); return; }
  unsend((await r.json()).removed);
  const s = await loadMemory("");
  if (!s) return;
  const kept = new Set(s.facts.map((f) => f.key));
  const gone = before.filter((k) => !kept.has(k)).map((k) => k.startsWith("note:") ? "a note" : k);
  const facts = gone.length ? "; the facts it stated went with it: " + gone.join(", ") : "";
  say("Deleted the turn from memory" + facts + ".");
}
// The deleted turn's message stays on screen, marked, and is no longer sent as history.
function unsend(turn) {
  const m = current.messages.find((x) => !x.forgotten && x.role === turn.role && x.content === turn.text);
  if (!m) return;
  m.forgotten = true;
  save();
  $("messages").replaceChildren(...current.messages.map(renderMessage));
}
async function forget() {
  if (!current) return;
  const r = await api(sessionPath(), { method: "DELETE" });
  await loadMemory();
  say(r.ok ? "Forgotten: the server holds nothing of this conversation." : await errorText(r), !r.ok);
}

// --- wiring ----------------------------------------------------------------------------
$("ask").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("question").value.trim();
  if (!q || busy) return;
  busy = true; $("send").disabled = true; $("question").value = "";
  try { await send(q); } finally { busy = false; $("send").disabled = false; $("question").focus(); }
});
$("question").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("ask").requestSubmit(); }
});
$("new-chat").onclick = startConversation;
$("toggle-sidebar").onclick = (e) => { e.stopPropagation(); $("sidebar").classList.toggle("open"); };
document.querySelector("main").addEventListener("click", () => $("sidebar").classList.remove("open"));
$("toggle-memory").onclick = () => { $("memory").hidden = !$("memory").hidden; if (!$("memory").hidden) loadMemory(); };
$("close-memory").onclick = () => { $("memory").hidden = true; };
$("forget").onclick = forget;

loadPickers().then(() => {
  if (conversations.length) select(conversations[0]); else startConversation();
  document.body.dataset.ready = "1";
});
