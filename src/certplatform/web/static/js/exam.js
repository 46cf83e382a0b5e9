/* The CBT exam screen: autosave with an offline queue, the server-timed countdown, the
   answer sheet, text size and layout, the dialogs and the calculator.
   The page works without this file (one form, posted on submit); this only enhances it. */
(() => {
  'use strict';

  const root = document.getElementById('cbt');
  if (!root) return;
  const attemptId = root.dataset.attempt;
  const api = `/api/v1/attempts/${attemptId}`;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const paper = document.getElementById('paper');
  const reduceMotion = window.matchMedia('(prefers-reduced-motion: reduce)');
  const wide = window.matchMedia('(min-width: 64rem)');
  const $ = (sel, el = document) => el.querySelector(sel);
  const $$ = (sel, el = document) => Array.from(el.querySelectorAll(sel));

  const msg = (key, vars = {}) => {
    const name = 'msg' + key.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase());
    return (root.dataset[name] || '').replace(/\{(\w+)\}/g, (_, v) => String(vars[v] ?? ''));
  };

  // ---- storage: a missing or full localStorage must never break the exam ----------------
  const store = {
    get(key, fallback) {
      try {
        const raw = localStorage.getItem(key);
        return raw === null ? fallback : JSON.parse(raw);
      } catch (_) { return fallback; }
    },
    set(key, value) {
      try { localStorage.setItem(key, JSON.stringify(value)); } catch (_) { /* quota, privacy mode */ }
    },
    remove(key) {
      try { localStorage.removeItem(key); } catch (_) { /* ignore */ }
    },
  };
  const KEY = {
    queue: `cbt:queue:${attemptId}`,
    seq: `cbt:seq:${attemptId}`,
    pos: `cbt:pos:${attemptId}`,
    size: 'cbt:size',
    layout: 'cbt:layout',
  };

  // ---- server clock ------------------------------------------------------------------------
  // performance.now() is monotonic; the navigation's responseStart is when the server sent the
  // remaining time in this page, so the deadline never depends on the device's wall clock.
  const navEntry = performance.getEntriesByType('navigation')[0];
  const loadedAt = navEntry && navEntry.responseStart > 0 ? navEntry.responseStart : performance.now();
  let deadline = loadedAt + Number(root.dataset.remaining) * 1000;
  const serverElapsedAtLoad = Number(root.dataset.elapsedMs) || 0;
  const serverElapsed = () => Math.floor(serverElapsedAtLoad + performance.now() - loadedAt);
  const syncClock = (remainingSeconds, at) => {
    if (typeof remainingSeconds === 'number' && isFinite(remainingSeconds)) {
      deadline = at + remainingSeconds * 1000;
    }
  };

  // Operation order: never below an earlier one on this device (the stored counter), and
  // at least the server's milliseconds since the start, so a later save from another
  // device or after a cleared storage still wins.
  const nextSeq = () => {
    const seq = Math.max((store.get(KEY.seq, 0) || 0) + 1, serverElapsed(), 1);
    store.set(KEY.seq, seq);
    return seq;
  };
  const newOpId = () => {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  };

  // ---- questions ---------------------------------------------------------------------------
  const questions = new Map();
  const order = [];
  for (const el of $$('.q', paper)) {
    const pos = Number(el.dataset.pos);
    const q = {
      pos,
      el,
      type: el.dataset.type,
      section: el.closest('.cbt-section'),
      flag: $(`input[name="f${pos}"]`, el),
      save: $('.q-save', el),
      cell: $(`[data-cell="${pos}"]`),
      bubbles: $$(`[data-bubbles="${pos}"] input`),
      closed: false,
    };
    questions.set(pos, q);
    order.push(pos);
  }

  const CHOICE_TYPES = ['single_choice', 'multiple_response'];

  // The answer as the API takes it; {} is "no answer"; null is "cannot be read" (bad number).
  function readAnswer(q) {
    const name = `a${q.pos}`;
    if (CHOICE_TYPES.includes(q.type)) {
      const labels = $$(`input[name="${name}"]:checked`, q.el).map((i) => i.value);
      return labels.length ? { choices: labels } : {};
    }
    if (q.type === 'true_false') {
      const checked = $(`input[name="${name}"]:checked`, q.el);
      return checked ? { value: checked.value === 'true' } : {};
    }
    if (q.type === 'matching') {
      const pairs = $$('select', q.el).filter((s) => s.value).map((s) => [s.dataset.left, s.value]);
      return pairs.length ? { pairs } : {};
    }
    const input = $(`[name="${name}"]`, q.el);
    const text = input ? input.value.trim() : '';
    if (q.type === 'numeric') {
      const error = $('[data-error]', q.el);
      if (!text) { showInputError(input, error, ''); return {}; }
      const number = Number(text.replace(/,/g, ''));
      if (!isFinite(number)) { showInputError(input, error, msg('bad-number')); return null; }
      showInputError(input, error, '');
      return { number };
    }
    return text ? { text: input.value } : {};
  }

  function showInputError(input, error, text) {
    if (!error) return;
    error.textContent = text;
    error.hidden = !text;
    if (text) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }

  function writeAnswer(q, answer) {
    const name = `a${q.pos}`;
    answer = answer || {};
    if (CHOICE_TYPES.includes(q.type)) {
      const chosen = answer.choices || [];
      for (const input of $$(`input[name="${name}"]`, q.el)) input.checked = chosen.includes(input.value);
    } else if (q.type === 'true_false') {
      for (const input of $$(`input[name="${name}"]`, q.el)) {
        input.checked = answer.value !== undefined && answer.value !== null && String(answer.value) === input.value;
      }
    } else if (q.type === 'matching') {
      const pairs = new Map(answer.pairs || []);
      for (const select of $$('select', q.el)) select.value = pairs.get(select.dataset.left) || '';
    } else {
      const input = $(`[name="${name}"]`, q.el);
      if (!input) return;
      if (q.type === 'numeric') input.value = answer.number ?? '';
      else input.value = answer.text ?? '';
    }
  }

  const answerKey = (answer) => {
    if (!answer) return '{}';
    const copy = { ...answer };
    if (copy.choices) copy.choices = [...copy.choices].sort();
    return JSON.stringify(copy, Object.keys(copy).sort());
  };
  const isAnswered = (answer) => !!answer && Object.keys(answer).length > 0;

  // How choice labels ("1".."n" on the wire) are shown: ①②③④ or A B C D (FCC pools).
  const MARKS = root.dataset.choiceStyle === 'letter' ? 'ABCDEFGHIJKLMNOPQRST' : '①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳';
  const markOf = (label) => {
    const n = Number(label);
    return n >= 1 && n <= MARKS.length ? MARKS[n - 1] : `${label}.`;
  };

  function renderCell(q) {
    if (!q.cell) return;
    const answered = isAnswered(q.answer);
    q.cell.classList.toggle('is-answered', answered);
    q.cell.classList.toggle('is-flagged', q.flagged);
    const markEl = $('[data-cell-mark]', q.cell);
    if (markEl) {
      markEl.textContent = answered ? (q.answer.choices ? q.answer.choices.map(markOf).join('') : '✓') : '';
    }
    const chosen = (answered && q.answer.choices) || [];
    for (const bubble of q.bubbles) bubble.checked = chosen.includes(bubble.value);
    const state = $('[data-cell-state]', q.cell);
    if (state) {
      state.textContent = (answered ? msg('answered') : msg('unanswered')) + (q.flagged ? `, ${msg('flagged')}` : '');
    }
  }

  const unansweredList = () => order.filter((pos) => !isAnswered(questions.get(pos).answer));
  const flaggedList = () => order.filter((pos) => questions.get(pos).flagged);

  function renderCounts() {
    const n = unansweredList().length;
    for (const el of $$('[data-unanswered-count]')) el.textContent = String(n);
    const sheetCount = $('[data-sheet-count]');
    if (sheetCount) {
      const label = sheetCount.textContent.replace(/\s*\d+\/\d+\s*$/, '');
      sheetCount.textContent = `${label} ${n}/${order.length}`;
    }
  }

  // ---- save queue (localStorage, survives reloads) --------------------------------------
  // One entry per question, the newest operation: {op_id, op_seq, pos, body}. Each entry
  // holds every field that differs from what the server acknowledged, so replacing an
  // older entry never drops an answer; a replaced entry's op_id is never sent again.
  const loadQueue = () => store.get(KEY.queue, {}) || {};
  const saveQueue = (queue) => {
    if (Object.keys(queue).length) store.set(KEY.queue, queue);
    else store.remove(KEY.queue);
  };
  let inflight = null;

  // Time on each question since its last save (only while the page is visible).
  const spent = new Map();
  let activePos = null;
  let activeSince = performance.now();
  function settleTime() {
    const now = performance.now();
    if (activePos !== null && !document.hidden) {
      spent.set(activePos, (spent.get(activePos) || 0) + (now - activeSince));
    }
    activeSince = now;
  }
  function setActive(pos) {
    if (pos === activePos) return;
    settleTime();
    activePos = pos;
  }
  function takeTime(pos) {
    settleTime();
    const ms = Math.round(spent.get(pos) || 0);
    spent.set(pos, 0);
    return Math.min(ms, 24 * 3600 * 1000);
  }

  function setSaveState(q, state) {
    q.saveState = state;
    const text = { saved: msg('saved'), saving: msg('saving'), queued: msg('queued'), failed: msg('failed') }[state] || '';
    q.save.dataset.save = state;
    q.save.textContent = text;
  }

  function enqueue(q) {
    if (finishing || q.closed) return;
    const queue = loadQueue();
    const prev = queue[q.pos];
    const body = {};
    if (answerKey(q.answer) !== q.ackedKey || (prev && 'answer' in prev.body)) body.answer = q.answer;
    if (q.flagged !== q.ackedFlag || (prev && 'flagged' in prev.body)) body.flagged = q.flagged;
    if (!('answer' in body) && !('flagged' in body)) {
      setSaveState(q, isAnswered(q.answer) ? 'saved' : 'none');
      renderStatus();
      return;
    }
    // Time already sent with an in-flight request is counted there; an unsent one moves over.
    body.elapsed_ms = takeTime(q.pos) + (prev && prev.op_id !== inflight ? prev.body.elapsed_ms || 0 : 0);
    queue[q.pos] = { op_id: newOpId(), op_seq: nextSeq(), pos: q.pos, body };
    saveQueue(queue);
    setSaveState(q, navigator.onLine ? 'saving' : 'queued');
    renderStatus();
    pump();
  }

  function onChange(q) {
    const answer = readAnswer(q);
    if (answer === null) return; // an unreadable number stays on screen with its error
    q.answer = answer;
    q.flagged = q.flag ? q.flag.checked : false;
    renderCell(q);
    renderCounts();
    enqueue(q);
  }

  let pumping = null;
  let retryTimer = null;
  let backoff = 0;
  let offline = !navigator.onLine;
  let sessionLost = false;

  // `atLeast`: the server's Retry-After in ms (a busy server says when to come back); a
  // random part spreads the returning pages so they do not all come back at once.
  function scheduleRetry(atLeast = 0) {
    clearTimeout(retryTimer);
    backoff = Math.min(backoff ? backoff * 2 : 1000, 30000);
    retryTimer = setTimeout(pump, Math.max(backoff, atLeast) + Math.random() * 500);
  }

  function retryAfterMs(res) {
    const seconds = Number(res.headers.get('Retry-After'));
    return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 120) * 1000 : 0;
  }

  const headers = () => ({ 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Accept: 'application/json' });

  async function errorMessage(res) {
    try { return ((await res.json()).error || {}).message || ''; } catch (_) { return ''; }
  }

  // Send queued operations one at a time, oldest first, until the queue is empty or the
  // network fails (then retry with backoff, on `online`, and on the next load).
  function pump() {
    if (!pumping) pumping = sendQueued().finally(() => { pumping = null; renderStatus(); });
    return pumping;
  }
  async function sendQueued() {
    for (;;) {
      const ops = Object.values(loadQueue()).sort((a, b) => a.op_seq - b.op_seq);
      if (!ops.length) break;
      const op = ops[0];
      let res;
      inflight = op.op_id;
      try {
        res = await fetch(`${api}/answers/${op.pos}`, {
          method: 'PUT',
          credentials: 'same-origin',
          headers: headers(),
          body: JSON.stringify({ op_id: op.op_id, op_seq: op.op_seq, ...op.body }),
        });
      } catch (_) {
        offline = true;
        markQueued();
        scheduleRetry();
        break;
      } finally {
        inflight = null;
      }
      offline = false;
      if (res.ok) {
        backoff = 0;
        sessionLost = false;
        acknowledge(op, await res.json(), performance.now());
        continue;
      }
      if (res.status === 409) {
        if (!(await onConflict(op, await errorMessage(res)))) break;
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        sessionLost = true;
        scheduleRetry();
        break;
      }
      if (res.status >= 500 || res.status === 429 || res.status === 408) {
        markQueued();
        scheduleRetry(retryAfterMs(res));
        break;
      }
      drop(op, await errorMessage(res));
    }
  }

  function removeIfCurrent(op) {
    const queue = loadQueue();
    const current = queue[op.pos];
    if (!current || current.op_id !== op.op_id) return false;
    delete queue[op.pos];
    saveQueue(queue);
    return true;
  }

  let ackSerial = 0;
  function acknowledge(op, ack, at) {
    syncClock(ack.remaining_seconds, at);
    const q = questions.get(op.pos);
    if (!removeIfCurrent(op) || !q) return; // a newer operation for this question is queued
    setSaveState(q, isAnswered(q.answer) || q.flagged ? 'saved' : 'none');
    if (ack.applied) {
      if ('answer' in op.body) q.ackedKey = answerKey(op.body.answer);
      if ('flagged' in op.body) q.ackedFlag = op.body.flagged;
      q.ackSerial = ++ackSerial;
    } else {
      // The server holds a newer answer (from another device): show that one.
      reconcile();
    }
  }

  function drop(op, message) {
    const q = questions.get(op.pos);
    if (!removeIfCurrent(op) || !q) return;
    setSaveState(q, 'failed');
    if (message) q.save.textContent = `${msg('failed')}: ${message}`;
  }

  // 409: the attempt was submitted (by the deadline sweeper), time is up, or this section
  // closed. Ask the server which, and act on it. Returns true to keep sending.
  let closedByServer = false;
  async function onConflict(op, message) {
    const view = await fetchView();
    if (!view) { scheduleRetry(); return false; }
    if (view.status !== 'open') { closedByServer = true; finish(); return false; }
    if (view.remaining_seconds <= 0) { closedByServer = true; timeUp(); return false; }
    drop(op, message);
    return true;
  }

  async function fetchView() {
    try {
      const res = await fetch(api, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
      if (!res.ok) return null;
      const at = performance.now();
      const view = await res.json();
      syncClock(view.remaining_seconds, at);
      return view;
    } catch (_) { return null; }
  }

  // Bring questions without a queued change in line with the server (another device).
  // Questions saved while the view was on its way keep their newer local state.
  async function reconcile() {
    const since = ackSerial;
    const view = await fetchView();
    if (!view) return;
    if (view.status !== 'open') { finish(); return; }
    const queue = loadQueue();
    for (const item of view.items) {
      const q = questions.get(item.position);
      if (!q || queue[q.pos] || (q.ackSerial || 0) > since) continue;
      const answer = item.answer ? compact(item.answer) : {};
      q.ackedKey = answerKey(answer);
      q.ackedFlag = item.flagged;
      if (answerKey(q.answer) !== q.ackedKey) { writeAnswer(q, answer); q.answer = readAnswer(q) || answer; }
      if (q.flag) q.flag.checked = item.flagged;
      q.flagged = item.flagged;
      renderCell(q);
    }
    renderCounts();
  }

  // The API's answer has every field; keep only those that carry something.
  function compact(answer) {
    const out = {};
    if (answer.choices && answer.choices.length) out.choices = answer.choices;
    if (answer.value !== null && answer.value !== undefined) out.value = answer.value;
    if (answer.text) out.text = answer.text;
    if (answer.number !== null && answer.number !== undefined) out.number = answer.number;
    if (answer.pairs && answer.pairs.length) out.pairs = answer.pairs;
    return out;
  }

  function markQueued() {
    const queue = loadQueue();
    for (const op of Object.values(queue)) {
      const q = questions.get(op.pos);
      if (q) setSaveState(q, 'queued');
    }
  }

  // ---- status line (aria-live): changes only when the state changes, not on every save -----
  const statusEl = $('[data-status]', root);
  let shownStatus = null;
  let savingTimer = null;
  function renderStatus() {
    const pending = Object.keys(loadQueue()).length;
    let state;
    let text;
    if (finishing) return;
    if (sessionLost) { state = 'session'; text = msg('session'); }
    else if (pending && (offline || !navigator.onLine)) { state = 'offline'; text = msg('offline', { n: pending }); }
    else if (pending) { state = 'saving'; text = msg('saving'); }
    else {
      state = 'saved';
      text = order.some((pos) => isAnswered(questions.get(pos).answer) || questions.get(pos).flagged) ? msg('all-saved') : '';
    }
    root.dataset.saveState = state;
    if (state === 'saving') {
      // Quick saves stay silent; only a slow one says "Saving…".
      if (!savingTimer && shownStatus !== 'saving') {
        savingTimer = setTimeout(() => {
          savingTimer = null;
          if (root.dataset.saveState === 'saving') { statusEl.textContent = msg('saving'); shownStatus = 'saving'; }
        }, 700);
      }
      return;
    }
    clearTimeout(savingTimer);
    savingTimer = null;
    if (state !== shownStatus || statusEl.textContent !== text) {
      statusEl.textContent = text;
      shownStatus = state;
    }
  }

  function announce(text) {
    statusEl.textContent = text;
    shownStatus = 'announce';
  }

  // ---- countdown ---------------------------------------------------------------------------
  const clocks = $$('[data-clock]');
  const timerText = $('[data-timer-text]');
  const timerBox = $('[data-timer-box]');
  let lastMinute = null;
  const milestones = new Set([10, 5, 1]);

  function minutesText(left) {
    if (left < 60) return msg('under-minute');
    const minutes = Math.floor(left / 60);
    const h = Math.floor(minutes / 60);
    return h ? msg('hours-left', { h, m: minutes % 60 }) : msg('minutes-left', { m: minutes });
  }
  function clockText(left) {
    const total = Math.max(0, Math.ceil(left));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    const mm = String(m).padStart(2, '0');
    const ss = String(s).padStart(2, '0');
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function tick() {
    const leftMs = deadline - performance.now();
    const left = Math.max(0, leftMs / 1000);
    const text = clockText(left);
    for (const el of clocks) if (el.textContent !== text) el.textContent = text;
    const minute = Math.floor(left / 60);
    if (minute !== lastMinute) {
      // The screen-reader text changes at most once a minute.
      if (timerText) timerText.textContent = minutesText(left);
      if (lastMinute !== null && milestones.has(minute)) announce(minutesText(left));
      lastMinute = minute;
    }
    if (timerBox) timerBox.classList.toggle('is-low', left <= 300);
    checkSections();
    if (leftMs <= 0) { timeUp(); return; }
    setTimeout(tick, Math.min(1000, (leftMs % 1000) || 1000) + 5);
  }

  // Sections with their own time limit close on their own.
  const sectionClocks = $$('[data-section-remaining]', paper).map((el) => ({
    el,
    end: loadedAt + Number(el.dataset.sectionRemaining) * 1000,
    closed: false,
  }));
  function checkSections() {
    for (const s of sectionClocks) {
      if (s.closed || performance.now() < s.end) continue;
      s.closed = true;
      s.el.classList.add('is-closed');
      for (const input of $$('input, select, textarea', s.el)) input.disabled = true;
      for (const q of questions.values()) {
        if (q.section !== s.el) continue;
        q.closed = true;
        for (const bubble of q.bubbles) bubble.disabled = true;
      }
      announce(msg('section-closed'));
    }
  }

  // ---- finishing ---------------------------------------------------------------------------
  let finishing = false;
  function finish() {
    finishing = true;
    store.remove(KEY.queue);
    store.remove(KEY.seq);
    store.remove(KEY.pos);
    window.location.assign(`/exam/${attemptId}/result`);
  }

  async function submitNow() {
    const res = await fetch(`${api}/submit`, { method: 'POST', credentials: 'same-origin', headers: headers(), body: '{}' });
    if (res.ok || res.status === 409) return true;
    throw new Error(await errorMessage(res));
  }

  let timeUpStarted = false;
  async function timeUp() {
    if (timeUpStarted) return;
    timeUpStarted = true;
    commitTyping();
    announce(msg('time-up'));
    root.classList.add('is-over');
    for (const el of $$('input, select, textarea, .cbt-dock button', root)) el.disabled = true;
    for (const dlg of $$('dialog[open]', root)) dlg.close();
    // The server accepts answers for a few seconds past the deadline: send what is queued.
    const until = performance.now() + 4000;
    while (Object.keys(loadQueue()).length && performance.now() < until && navigator.onLine && !closedByServer) {
      await pump();
      if (Object.keys(loadQueue()).length) await new Promise((r) => setTimeout(r, 400));
    }
    finishing = true;
    let wait = 1000;
    for (;;) {
      try {
        if (await submitNow()) { finish(); return; }
      } catch (_) { /* offline or server busy: the server also submits at the deadline */ }
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 15000);
    }
  }

  // ---- navigation: previous / next / answer sheet -----------------------------------------
  let layout = 'single';
  let current = order[0];

  // The sheet's highlight: aria-current on the question's cell, kept in view in the sheet.
  function highlight(pos) {
    for (const cell of $$('[data-cell]')) {
      if (Number(cell.dataset.cell) === pos) cell.setAttribute('aria-current', 'true');
      else cell.removeAttribute('aria-current');
    }
    const cell = questions.get(pos).cell;
    const pane = wide.matches ? $('.cbt-sheet') : $('.sheet-body');
    if (!cell || !pane || !pane.clientHeight) return;
    const c = cell.getBoundingClientRect();
    const p = pane.getBoundingClientRect();
    if (c.top < p.top || c.bottom > p.bottom) pane.scrollTop += c.top - p.top - p.height / 3;
  }

  // A question chosen with the sheet or previous/next stays the current one while it is in
  // view, even when it cannot scroll to the top (the last questions of the paper).
  let pinned = null;
  let pinnedSeen = false;
  function go(pos, { focus = true, scroll = true, smooth = true } = {}) {
    const q = questions.get(pos);
    if (!q) return;
    current = pos;
    pinned = pos;
    pinnedSeen = false;
    setActive(pos);
    store.set(KEY.pos, pos);
    for (const other of questions.values()) other.el.classList.toggle('is-current', other.pos === pos);
    // Leaving a question commits what was typed into it.
    commitTyping();
    for (const section of $$('.cbt-section', paper)) section.classList.toggle('is-current', section === q.section);
    highlight(pos);
    if (scroll) {
      if (layout === 'single') { window.scrollTo({ top: 0 }); paper.scrollTo({ top: 0 }); }
      else {
        // The first question of a section brings its section title with it.
        const target = q.section && $('.q', q.section) === q.el ? q.section : q.el;
        target.scrollIntoView({ block: 'start', behavior: smooth && !reduceMotion.matches ? 'smooth' : 'auto' });
      }
    }
    if (focus) q.el.focus({ preventScroll: true });
  }

  // The question the candidate is on: the shown one, the focused one, or the first in view.
  function here() {
    if (layout === 'single') return current;
    const focused = document.activeElement && document.activeElement.closest ? document.activeElement.closest('.q') : null;
    if (focused && paper.contains(focused)) return Number(focused.dataset.pos);
    return firstInView() || current;
  }
  function viewTop() { return wide.matches ? paper.getBoundingClientRect().top : 0; }
  function firstInView() {
    const top = viewTop();
    for (const pos of order) {
      const box = questions.get(pos).el.getBoundingClientRect();
      if (box.height && box.bottom > top + 40) return pos;
    }
    return null;
  }

  // 1단/2단: the sheet's highlight follows the paper as it scrolls. The observer only says
  // that some question came into or left view; which one is current is read from the layout.
  function followScroll() {
    if (layout === 'single' || finishing) return;
    if (pinned !== null) {
      const box = questions.get(pinned).el.getBoundingClientRect();
      const bottom = wide.matches ? paper.getBoundingClientRect().bottom : window.innerHeight;
      const inView = box.bottom > viewTop() && box.top < bottom;
      if (inView || !pinnedSeen) { pinnedSeen = pinnedSeen || inView; return; }
      pinned = null;
    }
    const pos = firstInView();
    if (pos === null || pos === current) return;
    current = pos;
    setActive(pos);
    store.set(KEY.pos, pos);
    highlight(pos);
  }
  if ('IntersectionObserver' in window) {
    const observer = new IntersectionObserver(followScroll, { threshold: [0, 0.25, 0.5, 0.75, 1] });
    for (const q of questions.values()) observer.observe(q.el);
  }

  function step(delta) {
    const index = order.indexOf(here()) + delta;
    if (index < 0) { announce(msg('first')); return; }
    if (index >= order.length) { announce(msg('last')); return; }
    go(order[index]);
  }

  // ---- text size and layout (classes on the exam root, remembered on this device) ----------
  const LAYOUTS = ['1col', '2col', 'single'];
  function applySize(size) {
    size = ['1', '2', '3'].includes(String(size)) ? String(size) : '1';
    root.classList.remove('size-1', 'size-2', 'size-3');
    root.classList.add(`size-${size}`);
    for (const b of $$('[data-size]')) b.setAttribute('aria-pressed', String(b.dataset.size === size));
    store.set(KEY.size, size);
  }
  function applyLayout(value) {
    layout = LAYOUTS.includes(value) ? value : '1col';
    for (const l of LAYOUTS) root.classList.toggle(`layout-${l}`, l === layout);
    for (const b of $$('[data-layout]')) b.setAttribute('aria-pressed', String(b.dataset.layout === layout));
    store.set(KEY.layout, layout);
  }

  // ---- answer sheet: open beside the paper on wide screens, a bottom panel on narrow ones ---
  const sheet = $('[data-sheet]');
  function placeSheet() {
    if (!sheet) return;
    sheet.open = wide.matches;
    root.classList.toggle('is-wide', wide.matches);
  }

  // ---- dialogs -----------------------------------------------------------------------------
  function openModal(dialog, opener) {
    dialog.returnTo = opener || document.activeElement;
    dialog.showModal();
  }
  for (const dialog of $$('dialog', root)) {
    dialog.addEventListener('close', () => {
      const back = dialog.returnTo;
      dialog.returnTo = null;
      if (back && back.isConnected && !back.disabled) back.focus();
    });
    for (const button of $$('[data-close]', dialog)) button.addEventListener('click', () => dialog.close());
  }

  function numberButtons(list, positions) {
    list.replaceChildren(...positions.map((pos) => {
      const li = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = msg('question', { n: pos });
      button.addEventListener('click', () => {
        const dialog = list.closest('dialog');
        dialog.returnTo = null;
        dialog.close();
        go(pos);
      });
      li.append(button);
      return li;
    }));
  }

  const unDialog = $('#dlg-unanswered');
  function openUnanswered(opener) {
    const missing = unansweredList();
    const flagged = flaggedList();
    $('[data-un-summary]', unDialog).textContent = missing.length ? msg('unanswered-count', { n: missing.length }) : msg('none-unanswered');
    numberButtons($('[data-un-list]', unDialog), missing);
    $('[data-flag-summary]', unDialog).textContent = flagged.length ? '' : msg('none-flagged');
    numberButtons($('[data-flag-list]', unDialog), flagged);
    openModal(unDialog, opener);
  }

  const submitDialog = $('#dlg-submit');
  const submitError = $('[data-submit-error]', submitDialog);
  function openSubmit(opener) {
    commitTyping();
    $('[data-submit-unanswered]', submitDialog).textContent = String(unansweredList().length);
    submitError.textContent = '';
    openModal(submitDialog, opener);
  }
  async function confirmSubmit(button) {
    button.disabled = true;
    submitError.textContent = '';
    try {
      commitTyping();
      await pump();
      if (Object.keys(loadQueue()).length && navigator.onLine) await pump(); // a run that began earlier
      const pending = Object.keys(loadQueue()).length;
      if (pending) { submitError.textContent = msg('pending', { n: pending }); return; }
      finishing = true;
      await submitNow();
      finish();
    } catch (_) {
      finishing = false;
      submitError.textContent = navigator.onLine ? msg('submit-failed') : msg('pending', { n: Object.keys(loadQueue()).length || 1 });
    } finally {
      button.disabled = false;
    }
  }

  // ---- calculator: an expression of tokens, evaluated by a shunting-yard parser ------------
  // No eval(): the page's CSP forbids it, and a parser only knows the keys on the pad.
  // Tokens: {t:'num', v:'12.5'}, {t:'op', v:'+'|'-'|'*'|'/'}, {t:'(' }, {t:')'},
  // {t:'fn', v:'sqrt'|'neg'} (prefix), {t:'pct'} (postfix: x% is x/100).
  const calcDialog = $('#dlg-calc');
  const calc = { tokens: [], result: null, memory: 0, error: false };
  const SHOW = { '+': '+', '-': '−', '*': '×', '/': '÷' };
  const PREC = { '+': 1, '-': 1, '*': 2, '/': 2 };
  function formatNumber(value) {
    if (!isFinite(value)) return msg('error');
    return String(Number(value.toPrecision(12)));
  }
  const last = () => calc.tokens[calc.tokens.length - 1];
  // A value ends here: a number, a closing bracket or a percent.
  const endsValue = (tok) => !!tok && (tok.t === 'num' || tok.t === ')' || tok.t === 'pct');

  function toRpn(tokens) {
    const out = [];
    const stack = [];
    for (const tok of tokens) {
      if (tok.t === 'num' || tok.t === 'pct') out.push(tok);
      else if (tok.t === 'fn' || tok.t === '(') stack.push(tok);
      else if (tok.t === 'op') {
        for (;;) {
          const top = stack[stack.length - 1];
          if (!top || top.t === '(') break;
          if (top.t === 'fn' || PREC[top.v] >= PREC[tok.v]) out.push(stack.pop());
          else break;
        }
        stack.push(tok);
      } else if (tok.t === ')') {
        while (stack.length && stack[stack.length - 1].t !== '(') out.push(stack.pop());
        if (!stack.length) throw new Error('brackets');
        stack.pop();
        if (stack.length && stack[stack.length - 1].t === 'fn') out.push(stack.pop());
      }
    }
    // Brackets still open close at the end, as on a hand calculator.
    while (stack.length) {
      const tok = stack.pop();
      if (tok.t !== '(') out.push(tok);
    }
    return out;
  }
  function evaluate(tokens) {
    const stack = [];
    for (const tok of toRpn(tokens)) {
      if (tok.t === 'num') { stack.push(Number(tok.v)); continue; }
      if (tok.t === 'pct' || tok.t === 'fn') {
        if (!stack.length) throw new Error('operand');
        const x = stack.pop();
        if (tok.t === 'pct') stack.push(x / 100);
        else if (tok.v === 'neg') stack.push(-x);
        else if (x < 0) throw new Error('sqrt');
        else stack.push(Math.sqrt(x));
        continue;
      }
      if (stack.length < 2) throw new Error('operand');
      const b = stack.pop();
      const a = stack.pop();
      if (tok.v === '/' && b === 0) throw new Error('zero');
      stack.push(tok.v === '+' ? a + b : tok.v === '-' ? a - b : tok.v === '*' ? a * b : a / b);
    }
    if (stack.length !== 1 || !isFinite(stack[0])) throw new Error('value');
    return Number(stack[0].toPrecision(12));
  }
  const shownToken = (tok) => (tok.t === 'num' ? tok.v : tok.t === 'op' ? SHOW[tok.v]
    : tok.t === 'fn' ? (tok.v === 'sqrt' ? '√' : '−') : tok.t === 'pct' ? '%' : tok.t);
  // After ")" or "%" (or an operator), the value of what is complete so far.
  function runningValue() {
    const tokens = calc.tokens.slice();
    while (tokens.length && !endsValue(tokens[tokens.length - 1])) tokens.pop();
    try { return tokens.length ? formatNumber(evaluate(tokens)) : '0'; } catch (_) { return '0'; }
  }
  function calcShow() {
    const out = $('[data-calc-out]', calcDialog);
    const tok = last();
    if (calc.error) out.textContent = msg('error');
    else if (calc.result !== null) out.textContent = formatNumber(calc.result);
    else if (tok && tok.t === 'num') out.textContent = tok.v;
    else out.textContent = runningValue();
    $('[data-calc-expr]', calcDialog).textContent = calc.tokens.map(shownToken).join(' ');
    $('[data-calc-mem]', calcDialog).hidden = calc.memory === 0;
  }
  // After "=", a digit starts afresh; an operator goes on from the result.
  function continueFrom() {
    if (calc.error) { calc.tokens = []; calc.error = false; }
    if (calc.result !== null) {
      calc.tokens = [{ t: 'num', v: formatNumber(calc.result) }];
      calc.result = null;
    }
  }
  function pushNumber(text) {
    const tok = last();
    if (tok && tok.t === 'num') { tok.v = text; return; }
    if (endsValue(tok)) calc.tokens.push({ t: 'op', v: '*' }); // 2(3) is 2×(3)
    calc.tokens.push({ t: 'num', v: text });
  }
  function currentValue() {
    // The shown result, or the expression so far worked out.
    if (calc.result !== null) return calc.result;
    if (!calc.tokens.length) return 0;
    return evaluate(calc.tokens);
  }
  function calcKey(key) {
    if (/^[0-9]$/.test(key) || key === '.') {
      if (calc.result !== null || calc.error) { calc.tokens = []; calc.result = null; calc.error = false; }
      const tok = last();
      if (tok && tok.t === 'num') {
        if (key === '.' && tok.v.includes('.')) return;
        if (tok.v.replace(/[-.]/g, '').length >= 15) return;
        tok.v = tok.v === '0' && key !== '.' ? key : tok.v === '-0' && key !== '.' ? `-${key}` : tok.v + key;
      } else pushNumber(key === '.' ? '0.' : key);
    } else if (key in PREC) {
      continueFrom();
      const tok = last();
      if (tok && tok.t === 'op') tok.v = key; // a second operator replaces the first
      else if (!tok || tok.t === '(') { if (key === '-') calc.tokens.push({ t: 'fn', v: 'neg' }); else return; }
      else if (tok.t === 'fn') return;
      else calc.tokens.push({ t: 'op', v: key });
    } else if (key === '(' || key === 'sqrt') {
      if (calc.result !== null || calc.error) { calc.tokens = []; calc.result = null; calc.error = false; }
      if (endsValue(last())) calc.tokens.push({ t: 'op', v: '*' });
      if (key === 'sqrt') calc.tokens.push({ t: 'fn', v: 'sqrt' });
      calc.tokens.push({ t: '(' });
    } else if (key === ')') {
      continueFrom();
      const open = calc.tokens.filter((t) => t.t === '(').length - calc.tokens.filter((t) => t.t === ')').length;
      if (open > 0 && endsValue(last())) calc.tokens.push({ t: ')' });
      else return;
    } else if (key === '%') {
      continueFrom();
      if (endsValue(last()) && last().t !== 'pct') calc.tokens.push({ t: 'pct' });
      else return;
    } else if (key === 'neg') {
      continueFrom();
      const tok = last();
      if (tok && tok.t === 'num') tok.v = tok.v.startsWith('-') ? tok.v.slice(1) : `-${tok.v}`;
      else if (!endsValue(tok)) pushNumber('-0');
      else return;
    } else if (key === '=' || key === 'Enter') {
      if (calc.error || calc.result !== null || !calc.tokens.length) { calcShow(); return; }
      try { calc.result = evaluate(calc.tokens); } catch (_) { calc.error = true; }
    } else if (key === 'C' || key === 'Delete') {
      Object.assign(calc, { tokens: [], result: null, error: false });
    } else if (key === 'Backspace') {
      if (calc.result !== null || calc.error) return;
      const tok = last();
      if (!tok) return;
      if (tok.t === 'num' && tok.v.replace('-', '').length > 1) tok.v = tok.v.slice(0, -1);
      else {
        calc.tokens.pop();
        if (tok.t === '(' && last() && last().t === 'fn') calc.tokens.pop(); // "√(" goes as one key
      }
    } else if (key === 'MC') {
      calc.memory = 0;
    } else if (key === 'MR') {
      if (calc.result !== null || calc.error) { calc.tokens = []; calc.result = null; calc.error = false; }
      pushNumber(formatNumber(calc.memory));
    } else if (key === 'M+' || key === 'M-') {
      try {
        const value = currentValue();
        calc.memory = Number((calc.memory + (key === 'M+' ? value : -value)).toPrecision(12));
        calc.result = value; // the value stored is shown, and the next digit starts afresh
      } catch (_) { calc.error = true; }
    } else return;
    calcShow();
  }
  if (calcDialog) {
    for (const button of $$('[data-key]', calcDialog)) button.addEventListener('click', () => calcKey(button.dataset.key));
    calcDialog.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') { event.preventDefault(); calcDialog.close(); return; }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const onButton = event.target instanceof HTMLButtonElement;
      if ((event.key === 'Enter' || event.key === ' ') && onButton) return; // the button's own key
      const key = event.key === 'x' ? '*' : event.key === 'r' ? 'sqrt' : event.key;
      if (/^[0-9.+\-*/=()%]$/.test(key) || ['Enter', 'Backspace', 'Delete', 'sqrt'].includes(key)) {
        event.preventDefault();
        calcKey(key);
      }
    });
  }

  // ---- wiring ------------------------------------------------------------------------------
  function commitTyping() {
    for (const q of questions.values()) {
      if (['short_answer', 'essay', 'numeric'].includes(q.type)) {
        const answer = readAnswer(q);
        if (answer !== null && answerKey(answer) !== answerKey(q.answer)) onChange(q);
      }
    }
  }

  const typingTimers = new Map();
  paper.addEventListener('change', (event) => {
    const el = event.target.closest('.q');
    if (!el) return;
    const q = questions.get(Number(el.dataset.pos));
    setActive(q.pos);
    clearTimeout(typingTimers.get(q.pos));
    onChange(q);
  });
  paper.addEventListener('input', (event) => {
    const el = event.target.closest('.q');
    if (!el || !event.target.matches('input[type="text"], textarea')) return;
    const q = questions.get(Number(el.dataset.pos));
    // Typed answers save after a pause, not on every key.
    clearTimeout(typingTimers.get(q.pos));
    typingTimers.set(q.pos, setTimeout(() => commitTyping(), 2500));
  });
  paper.addEventListener('keydown', (event) => {
    // Enter in a one-line answer saves it; it must not open the submit dialog.
    if (event.key === 'Enter' && event.target.matches('input[type="text"]')) {
      event.preventDefault();
      commitTyping();
    }
  });
  paper.addEventListener('focusin', (event) => {
    const el = event.target.closest('.q');
    if (el) {
      setActive(Number(el.dataset.pos));
      if (layout !== 'single') current = Number(el.dataset.pos);
    }
  });
  paper.addEventListener('submit', (event) => {
    event.preventDefault();
    openSubmit($('[data-open-submit]'));
  });

  // Marking in the answer sheet (답안 표기란): the same answer as in the question, saved
  // through the same queue; the sheet's radios move with the arrow keys like the paper's.
  const sheetEl = $('.cbt-sheet');
  if (sheetEl) {
    sheetEl.addEventListener('change', (event) => {
      const group = event.target.closest('[data-bubbles]');
      if (!group) return;
      const q = questions.get(Number(group.dataset.bubbles));
      if (!q || q.closed || finishing) return;
      const choices = q.bubbles.filter((b) => b.checked).map((b) => b.value);
      writeAnswer(q, choices.length ? { choices } : {});
      setActive(q.pos);
      onChange(q);
    });
  }

  for (const cell of $$('[data-cell]')) {
    cell.addEventListener('click', (event) => {
      event.preventDefault();
      if (!wide.matches && sheet) sheet.open = false;
      go(Number(cell.dataset.cell));
    });
  }
  $('[data-prev]').addEventListener('click', () => step(-1));
  $('[data-next]').addEventListener('click', () => step(1));
  $('[data-open-unanswered]').addEventListener('click', (e) => openUnanswered(e.currentTarget));
  $('[data-open-submit]').addEventListener('click', (e) => openSubmit(e.currentTarget));
  $('[data-confirm-submit]').addEventListener('click', (e) => confirmSubmit(e.currentTarget));
  const calcButton = $('[data-open-calc]');
  if (calcButton && calcDialog) {
    calcButton.addEventListener('click', () => {
      if (calcDialog.open) { calcDialog.close(); return; }
      calcDialog.returnTo = calcButton;
      calcDialog.show(); // not modal: the question stays readable beside it
      calcButton.setAttribute('aria-expanded', 'true');
      $('[data-key="7"]', calcDialog).focus();
    });
    calcDialog.addEventListener('close', () => calcButton.setAttribute('aria-expanded', 'false'));
  }
  for (const b of $$('[data-size]')) {
    b.addEventListener('click', () => {
      const pos = here();
      applySize(b.dataset.size);
      go(pos, { focus: false, smooth: false }); // keep the same question in view
    });
  }
  for (const b of $$('[data-layout]')) {
    b.addEventListener('click', () => {
      const pos = here();
      applyLayout(b.dataset.layout);
      go(pos, { focus: false, smooth: false });
    });
  }
  wide.addEventListener('change', placeSheet);

  window.addEventListener('online', () => { offline = false; backoff = 0; pump(); renderStatus(); });
  window.addEventListener('offline', () => { offline = true; markQueued(); renderStatus(); });

  // Integrity reports (best effort; the audit log keeps them with the attempt).
  function report(kind, detail) {
    if (finishing) return;
    fetch(`${api}/events`, {
      method: 'POST',
      credentials: 'same-origin',
      keepalive: true,
      headers: headers(),
      body: JSON.stringify({ kind, detail }),
    }).catch(() => {});
  }
  let hiddenAt = null;
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      settleTime();
      commitTyping();
      hiddenAt = performance.now();
      report('page_hidden', { position: current || 0 });
    } else {
      activeSince = performance.now();
      // Back after a while (or from sleep): ask the server for the time left.
      if (hiddenAt !== null && performance.now() - hiddenAt > 15000) reconcile();
      hiddenAt = null;
      pump();
    }
  });
  window.addEventListener('blur', () => report('focus_lost', { position: current || 0 }));
  document.addEventListener('paste', (event) => {
    const el = event.target instanceof Element ? event.target.closest('.q') : null;
    const text = event.clipboardData ? event.clipboardData.getData('text') : '';
    report('paste', { position: el ? Number(el.dataset.pos) : 0, length: text.length });
  });
  window.addEventListener('pageshow', (event) => { if (event.persisted) reconcile(); });

  // ---- start -------------------------------------------------------------------------------
  for (const el of $$('[data-js-only]')) el.hidden = false;
  for (const el of $$('[data-no-js]')) el.hidden = true;
  root.classList.add('js');

  for (const q of questions.values()) {
    q.answer = readAnswer(q) || {};
    q.flagged = q.flag ? q.flag.checked : false;
    q.ackedKey = answerKey(q.answer);
    q.ackedFlag = q.flagged;
    q.saveState = q.save.dataset.save;
  }
  // Changes made offline before a reload (or in a closed tab) are shown again and resent.
  const restored = loadQueue();
  for (const op of Object.values(restored)) {
    const q = questions.get(op.pos);
    if (!q) continue;
    if ('answer' in op.body) { writeAnswer(q, op.body.answer); q.answer = readAnswer(q) || op.body.answer; }
    if ('flagged' in op.body) { q.flagged = !!op.body.flagged; if (q.flag) q.flag.checked = q.flagged; }
    setSaveState(q, navigator.onLine ? 'saving' : 'queued');
  }
  for (const q of questions.values()) renderCell(q);
  renderCounts();

  applySize(store.get(KEY.size, '1'));
  applyLayout(store.get(KEY.layout, '1col'));
  placeSheet();
  const remembered = Number(store.get(KEY.pos, 0));
  // Back where the candidate was (after a reload); the first question needs no scrolling.
  const resumeAt = questions.has(remembered) ? remembered : order[0];
  go(resumeAt, { focus: false, scroll: layout === 'single' || resumeAt !== order[0], smooth: false });
  tick();
  pump();
})();
