// The grid worker's phone app: scan cards, pick a rule, add photos, check people in, submit.
// Everything entered is first written to IndexedDB; it is sent with deeds/batch (each deed with
// its own idempotency key, so a resend never posts twice) whenever the signal is there.
// Each entry remembers who recorded it: only the signed-in worker's own entries are sent, so
// what one worker left on a shared phone is never posted under the next one's name.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let state = {token: null, bank: null, user: null, rules: [], activities: [], people: [], rule: null,
             backdate: 45, shift: 0, fixing: null};
let sending = false;
//: A photo the server takes: JPEG or PNG, at most 8 MB (API.md); at most four to a deed.
const PHOTO_MAX_BYTES = 8 * 1024 * 1024;
const PHOTOS_MAX = 4;
//: The most a deed's quantity may be (the form's max, as the server's bound).
const QUANTITY_MAX = 1000;
//: The days a deed may be dated back when the server has not said (the rule file's default).
const BACKDATE_DAYS = 45;

// --- words: the field catalogue's messages, served per language at i18n/<lang>.json -------------
// The choice made here is kept on the phone (localStorage, for a start without a signal) and in
// the screens' language cookie (asking with ?lang= sets it); never chosen here, the app follows
// that cookie (i18n.json answers in the reader's language), else Chinese. Whatever the app writes
// itself is kept as a function that writes it, so a switch of language rewrites it too.
const LANG_KEY = "zongzhi-m-lang";
let lang = "zh";
let words = {};

function t(key, values) {
  const text = words[key] === undefined ? key : words[key];
  return text.replace(/%\((\w+)\)[sd]/g, (all, name) => (values && name in values ? String(values[name]) : all));
}

async function loadWords(asked, remember) {
  const path = asked ? "i18n/" + asked + ".json" + (remember ? "?lang=" + asked : "") : "i18n.json";
  const response = await fetch(path, {headers: {Accept: "application/json"}});
  if (!response.ok) throw new Error("words");
  const answer = await response.json();
  lang = answer.lang;
  words = answer.messages;
  showWords();
}

function showWords() {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const [attr, put] of [["data-i18n", (e, v) => { e.textContent = v; }],
                             ["data-i18n-placeholder", (e, v) => { e.placeholder = v; }],
                             ["data-i18n-aria-label", (e, v) => e.setAttribute("aria-label", v)]]) {
    document.querySelectorAll("[" + attr + "]").forEach((e) => put(e, t(e.getAttribute(attr))));
  }
  document.querySelectorAll("#langs button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.lang === lang)));
}

const wordsReady = (async () => {
  const chosen = localStorage.getItem(LANG_KEY);
  try {
    await loadWords(chosen, false);
  } catch (err) {  // no signal and nothing kept: the page's own Chinese, and Chinese words if kept
    await loadWords(chosen || "zh", false).catch(() => {});
  }
})();

document.querySelectorAll("#langs button").forEach((button) => button.addEventListener("click", async () => {
  const asked = button.dataset.lang;
  localStorage.setItem(LANG_KEY, asked);
  try {
    await loadWords(asked, navigator.onLine);
  } catch (err) {
    await loadWords(asked, false).catch(() => {});
  }
  showNotice();
  showSigninError();
  await drawOthers();
  if (!$("work").hidden) {
    drawPeople(); drawRules(); drawActivities(); drawChosen(); checkDay(false);
    await Promise.all([drawWaiting(), drawSent(), drawRefused()]);
  }
}));

// --- IndexedDB: "kv" holds the sign-in, the day's rules and the sent log, "queue" the work not
// yet sent, "refused" the deeds the server would not take (kept until fixed and resent, or dropped)
const db = new Promise((resolve, reject) => {
  const open = indexedDB.open("zongzhi-m", 2);
  open.onupgradeneeded = () => {
    const names = open.result.objectStoreNames;
    if (!names.contains("kv")) open.result.createObjectStore("kv");
    if (!names.contains("queue")) open.result.createObjectStore("queue", {keyPath: "key"});
    if (!names.contains("refused")) open.result.createObjectStore("refused", {keyPath: "key"});
  };
  open.onsuccess = () => resolve(open.result);
  open.onerror = () => reject(open.error);
});

function store(name, mode, act) {
  return db.then((d) => new Promise((resolve, reject) => {
    const tx = d.transaction(name, mode);
    const request = act(tx.objectStore(name));
    tx.oncomplete = () => resolve(request && request.result);
    tx.onerror = () => reject(tx.error);
  }));
}
const kvGet = (k) => store("kv", "readonly", (s) => s.get(k));
const kvSet = (k, v) => store("kv", "readwrite", (s) => s.put(v, k));
const queued = () => store("queue", "readonly", (s) => s.getAll());
const enqueue = (item) => store("queue", "readwrite", (s) => s.put(item));
const dequeue = (key) => store("queue", "readwrite", (s) => s.delete(key));
const refusedAll = () => store("refused", "readonly", (s) => s.getAll());
const keepRefused = (item) => store("refused", "readwrite", (s) => s.put(item));
const dropRefused = (key) => store("refused", "readwrite", (s) => s.delete(key));
const mine = (item) => item.user === state.user && item.bank === state.bank;
const ownQueue = async () => (await queued()).filter(mine);
const ownRefused = async () => (await refusedAll()).filter(mine).sort((a, b) => a.at - b.at);

// --- talking to the server ----------------------------------------------------------------------
async function call(method, path, body, isForm, root) {
  const headers = {"Accept-Language": lang};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body && !isForm) headers["Content-Type"] = "application/json";
  // The API knows the phone by its token, and the language by Accept-Language alone: without
  // cookies, the screens' switch (which would come first) cannot outvote the app's choice.
  const response = await fetch((root === undefined ? API : root) + path, {method, headers,
    credentials: root === undefined ? "omit" : "same-origin",
    body: body ? (isForm ? body : JSON.stringify(body)) : undefined});
  const data = await response.json().catch(() => ({}));
  return {status: response.status, data};
}

// The notice at the foot of the screen: what the app last said, rewritten on a switch of language.
let notice = null;
function say(write, isError, kind) {
  notice = write ? {write, isError, kind} : null;
  showNotice();
}
function showNotice() {
  $("notice").textContent = notice ? notice.write() : "";
  $("notice").className = notice ? (notice.isError ? "err" : "ok") : "";
}

// --- what the server said: its message and the fields' reasons, each said once ------------------
function texts(value) {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(texts);
  if (value && typeof value === "object") return Object.values(value).flatMap(texts);
  return [];
}
const pieces = (text) => String(text).toLowerCase().match(/[a-z]+|\d+|[\u3400-\u9fff]/g) || [];
const plain = (text) => String(text).toLowerCase().replace(/[\s.,;:!?()\u3000-\u303f\uff01-\uff1f]/g, "");
// A reason adds nothing when each of its words and numbers is already in the message
// ("当天还可得 8 分" after "…上限 10 分，还可得 8 分…").
function saidIn(part, whole) {
  const have = new Set(pieces(whole));
  const need = pieces(part);
  return plain(whole).includes(plain(part)) || (need.length > 0 && need.every((p) => have.has(p)));
}

// `cards`: the cards of the deed as entered, to name a resident the answer names by id or place.
function problemText(data, cards) {
  data = data || {};
  let message = typeof data.message === "string" ? data.message : "";
  const reasons = [];
  for (let reason of texts(data.fields)) {
    let who = null;
    const place = reason.match(/^(?:\u7b2c\s*(\d+)\s*\u5f20\u5361|card\s+(\d+))\s*[:\uff1a]\s*([\s\S]*)$/i);
    const id = reason.match(/^(\d+)\s*[:\uff1a]\s*([\s\S]*)$/);
    if (place) {  // "the 2nd card: ...": the card the worker entered second
      who = cards && cards[Number(place[1] || place[2]) - 1];
      reason = place[3];
    } else if (id) {  // a resident's id: the card, when there is one; else the id says nothing
      who = cards && cards.length === 1 ? cards[0] : null;
      reason = id[2];
    }
    if (!reason || (message && saidIn(reason, message))) continue;
    if (message && plain(reason).includes(plain(message))) message = "";  // the reason says more
    const line = who ? t("problem", {message: label(who), reason}) : reason;
    if (!reasons.includes(line)) reasons.push(line);
  }
  const said = reasons.reduce((first, next) => (first ? t("also", {first, next}) : next), "");
  if (message && said) return t("problem", {message, reason: said});
  return message || said || t("failed");
}

// --- days: the bank's today (the server's, as the phone's clock runs on) and how far back -------
const localDay = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 10);
function addDays(day, n) {
  const d = new Date(day + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
const daysBetween = (a, b) => Math.round((Date.parse(a + "T00:00:00Z") - Date.parse(b + "T00:00:00Z")) / 86400000);
const today = () => addDays(localDay(Date.now()), state.shift);

function resetDay() {
  const now = today();
  $("day").max = now;
  $("day").min = addDays(now, -state.backdate);
  $("day").value = now;
  checkDay(false);
}

// Why the chosen day may not date a deed (null when it may); shown under the field at once.
function dayProblem() {
  const day = $("day").value;
  if (!day) return () => t("no_day");
  if (day > $("day").max) return () => t("future_day", {today: $("day").max});
  if (day < $("day").min) return () => t("too_old_day", {first: $("day").min, n: state.backdate});
  return null;
}
let dayWrite = null;
function checkDay(fresh) {
  if (fresh) dayWrite = dayProblem();
  else if (dayWrite) dayWrite = dayProblem();
  $("day-error").textContent = dayWrite ? dayWrite() : "";
  if (dayWrite) $("day").setAttribute("aria-invalid", "true"); else $("day").removeAttribute("aria-invalid");
  return dayWrite;
}
$("day").addEventListener("change", () => checkDay(true));
$("day").addEventListener("input", () => checkDay(true));

// --- signing in ---------------------------------------------------------------------------------
let signinError = null;
function showSigninError() { $("signin-error").textContent = signinError ? signinError() : ""; }

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const answer = await call("POST", "/m/token?lang=" + lang, {name: $("name").value, password: $("password").value}, false, "");
    if (answer.status !== 201) { const text = problemText(answer.data); signinError = () => text; showSigninError(); return; }
    state.token = answer.data.token;
    state.bank = answer.data.bank;
    state.user = answer.data.user || $("name").value.trim();
    signinError = null; showSigninError();
    $("password").value = "";
    await kvSet("auth", {token: state.token, bank: state.bank, user: state.user});
    await start();
  } catch (err) {
    signinError = () => t("signin_offline");
    showSigninError();
  }
});

// Signing out keeps the worker's unsent entries on the phone, for their next sign-in; asked first.
$("signout").addEventListener("click", async () => {
  const waiting = (await ownQueue()).length;
  const refused = (await ownRefused()).length;
  if (waiting || refused) {
    const asked = [waiting ? t("signout_waiting", {n: waiting, user: state.user}) : "",
                   refused ? t("signout_refused", {n: refused}) : "", t("signout_sure")];
    if (!window.confirm(asked.filter(Boolean).join("\n"))) return;
  }
  await kvSet("auth", null);
  location.reload();
});

// Entries of other workers waiting on this phone: said on the sign-in screen and at work.
async function drawOthers() {
  const others = {};
  for (const item of await queued()) {
    if (state.token && mine(item)) continue;
    const who = item.user || "?";
    others[who] = (others[who] || 0) + 1;
  }
  const lines = Object.entries(others).map(([user, n]) => t("others_waiting", {user, n}));
  $("others").textContent = lines.join("\n");
  $("others").hidden = !lines.length;
}

async function start() {
  $("signin").hidden = true;
  $("work").hidden = false;
  resetDay();
  try {
    const answer = await call("GET", "/banks/" + state.bank + "/phone");
    if (answer.status === 401) { await kvSet("auth", null); return showSignin(); }
    if (answer.status === 200) { await kvSet("day", {...answer.data, phone_day: localDay(Date.now())}); }
  } catch (err) { /* no signal: what was kept last time will do */ }
  const day = await kvGet("day");
  if (day && day.bank === state.bank) {
    state.rules = day.rules;
    state.activities = day.activities;
    if (day.user && !state.user) { state.user = day.user; await kvSet("auth", {token: state.token, bank: state.bank, user: state.user}); }
    if (Number.isInteger(day.backdate_days)) state.backdate = day.backdate_days;
    if (day.today && day.phone_day) state.shift = daysBetween(day.today, day.phone_day);
    $("bank").removeAttribute("data-i18n");  // the bank's own name from now on, in any language
    $("bank").textContent = day.name + " · " + day.user;
    resetDay();
  }
  // Entries kept by an older version of the app named nobody: they are the signed-in worker's.
  if (state.user) {
    for (const item of await queued()) {
      if (!item.user) await enqueue({...item, user: state.user, bank: item.bank || state.bank});
    }
  }
  drawRules();
  drawActivities();
  await Promise.all([drawWaiting(), drawSent(), drawRefused(), drawOthers()]);
  send();
}

async function showSignin() {
  $("signin").hidden = false;
  $("work").hidden = true;
  await drawOthers();
}

// --- the people of this deed: scanned cards or typed numbers --------------------------------------
const NUMBER = /^[0-9A-Z]{4}-?[0-9A-Z]{4}$/;
const TOKEN = /(?:\/c\/)?([A-Za-z0-9_-]{22,64})\/?\s*$/;

// One card, however entered: a short number upper-case with its dash, a scanned address as its token.
function cardKey(text) {
  text = (text || "").trim();
  const upper = text.toUpperCase();
  if (NUMBER.test(upper)) return upper.includes("-") ? upper : upper.slice(0, 4) + "-" + upper.slice(4);
  const token = text.match(TOKEN);
  return token ? token[1] : text;
}

function label(text) {
  const card = cardKey(text);
  return NUMBER.test(card) || card.length < 22 ? t("card_number", {number: card}) : t("card_token", {end: card.slice(-4)});
}

function addCard(text) {
  const card = cardKey(text);
  if (!card) return;
  if (state.people.some((p) => p.card === card)) { say(() => t("card_seen"), true); return; }
  const person = {card};
  state.people.push(person);
  drawPeople();
  say(() => t("card_added", {who: label(card)}));
  if ($("activity").value) checkIn(person);
}

function drawPeople() {
  $("people").replaceChildren(...state.people.map((p, i) => {
    const li = document.createElement("li");
    const text = document.createElement("span");
    text.textContent = p.name ? t("person", {name: p.name, card: label(p.card)}) : label(p.card);
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "small"; remove.textContent = t("remove");
    remove.setAttribute("aria-label", t("problem", {message: t("remove"), reason: label(p.card)}));
    remove.onclick = () => { state.people.splice(i, 1); drawPeople(); };
    li.append(text, remove);
    return li;
  }));
}

$("number-form").addEventListener("submit", (event) => {
  event.preventDefault();
  addCard($("number").value);
  $("number").value = "";
});

// --- the camera: the browser's BarcodeDetector where it exists, else jsQR shipped with the app ---
let scanning = null;
$("scan").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}, audio: false});
    const video = $("video");
    video.srcObject = stream;
    await video.play();
    $("camera").hidden = false;
    scanning = {stream, detector: await detector()};
    requestAnimationFrame(scanFrame);
  } catch (err) {
    say(() => t("no_camera"), true);
  }
});

async function detector() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) return new BarcodeDetector({formats: ["qr_code"]});
    } catch (err) { /* fall through to jsQR */ }
  }
  return null;
}

const canvas = document.createElement("canvas");
async function scanFrame() {
  if (!scanning) return;
  const video = $("video");
  let text = null;
  if (video.videoWidth) {
    if (scanning.detector) {
      const found = await scanning.detector.detect(video).catch(() => []);
      text = found.length ? found[0].rawValue : null;
    } else if (window.jsQR) {
      const scale = Math.min(1, 640 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      const context = canvas.getContext("2d", {willReadFrequently: true});
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(pixels.data, canvas.width, canvas.height, {inversionAttempts: "dontInvert"});
      text = found ? found.data : null;
    }
  }
  if (text) { stopScan(); addCard(text); return; }
  setTimeout(() => requestAnimationFrame(scanFrame), 120);
}

function stopScan() {
  if (scanning) scanning.stream.getTracks().forEach((t) => t.stop());
  scanning = null;
  $("camera").hidden = true;
}
$("stop-scan").addEventListener("click", stopScan);

// --- rules by pinyin initials ---------------------------------------------------------------------
const signed = (points) => (points > 0 ? "+" : "") + points;

// A rule is found by any part of its name, of its initials (pf finds 参加普法学习, cjpfxx) or of
// its full pinyin (huanjing finds 环境整治); with nothing typed, every rule is listed.
function drawRules() {
  const q = $("rule-q").value.trim().toLowerCase().replace(/\s+/g, "");
  const keys = (r) => `${r.initials || ""} ${r.pinyin || ""}`.split(" ").filter(Boolean);
  const shown = state.rules.filter((r) => !q || keys(r).some((k) => k.includes(q))
    || r.name.includes(q) || r.code.startsWith(q)).slice(0, q ? 12 : state.rules.length);
  $("rules").replaceChildren(...shown.map((r) => {
    const li = document.createElement("li");
    li.textContent = t("rule_line", {name: r.name, points: signed(r.points), unit: r.unit});
    li.dataset.code = r.code;
    if (state.rule && state.rule.code === r.code) li.className = "on";
    li.onclick = () => { state.rule = r; drawChosen(); drawRules(); };
    return li;
  }));
}

function drawChosen() {
  $("rule-chosen").textContent = state.rule ? t("rule_chosen", {rule: state.rule.name}) : "";
  $("unit").textContent = state.rule && state.rule.unit ? state.rule.unit : "";
}
$("rule-q").addEventListener("input", drawRules);

// --- activities and check-ins ---------------------------------------------------------------------
// Only activities whose day has come: nobody is checked in before it (the server refuses it).
// Their times come in the bank's time zone, so the first ten characters are the bank's day.
function drawActivities() {
  const keep = $("activity").value;
  const begun = state.activities.filter((a) => String(a.starts_at).slice(0, 10) <= today());
  $("activity").replaceChildren($("activity").options[0], ...begun.map((a) => {
    const option = document.createElement("option");
    option.value = a.id;
    option.textContent = t("activity_option", {title: a.title});
    return option;
  }));
  $("activity").value = keep;
  $("deed-part").hidden = Boolean($("activity").value);
}
$("activity").addEventListener("change", () => { state.people = []; drawPeople(); drawActivities(); });

async function checkIn(person) {
  await enqueue({key: "checkin-" + $("activity").value + "-" + person.card, kind: "checkin",
                 user: state.user, bank: state.bank,
                 activity: $("activity").value, card: person.card, at: Date.now()});
  state.people = [];
  drawPeople();
  await drawWaiting();
  send();
}

// --- photos: checked on the phone before the deed is kept, so none is dropped later unseen -------
function photoKind(bytes) {
  const b = new Uint8Array(bytes.slice(0, 8));
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if ([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((x, i) => b[i] === x)) return "image/png";
  return null;
}

// The photos chosen, read; or a function that says why one of them cannot go.
async function readPhotos(kept) {
  const files = Array.from($("photo").files || []);
  if (files.length + kept > PHOTOS_MAX) return {problem: () => t("too_many_photos", {n: files.length + kept, max: PHOTOS_MAX})};
  const read = [];
  for (const file of files) {
    const name = file.name;
    if (file.size > PHOTO_MAX_BYTES) return {problem: () => t("photo_too_big", {name, size: "8 MB"})};
    const bytes = await file.arrayBuffer();
    const type = photoKind(bytes);
    if (!type) return {problem: () => t("photo_not_image", {name})};
    read.push({name, type, bytes});
  }
  return {photos: read};
}

// --- submitting: into the queue first, then sent when there is a signal -----------------------------
$("submit").addEventListener("click", async () => {
  if ($("activity").value) { say(() => t("checkin_mode")); return; }
  if (!state.people.length) { say(() => t("no_people"), true); return; }
  if (!state.rule) { say(() => t("no_rule"), true); return; }
  const dayWrong = checkDay(true);
  if (dayWrong) { say(dayWrong, true); $("day").focus(); return; }
  const fixing = state.fixing;
  const evidence = fixing ? fixing.evidence.slice() : [];
  const read = await readPhotos(evidence.length);
  if (read.problem) { say(read.problem, true); return; }
  const quantity = Number($("quantity").value);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > QUANTITY_MAX) { say(() => t("bad_quantity", {n: QUANTITY_MAX}), true); $("quantity").focus(); return; }
  const item = {key: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random(),
                kind: "deed", at: Date.now(), user: state.user, bank: state.bank,
                rule: state.rule.code, ruleName: state.rule.name, unit: state.rule.unit,
                cards: state.people.map((p) => p.card), quantity,
                occurred_on: $("day").value, memo: $("memo").value.trim() || null,
                photos: read.photos, evidence, photoProblems: fixing ? fixing.photoProblems || [] : []};
  await enqueue(item);
  if (fixing) { await dropRefused(fixing.key); state.fixing = null; await drawRefused(); }
  state.people = []; state.rule = null;
  $("memo").value = ""; $("photo").value = ""; $("quantity").value = "1";
  resetDay();
  drawPeople(); drawRules(); drawChosen();
  await drawWaiting();
  say(navigator.onLine ? () => t("saved") : () => t("saved_offline"), false, "waiting");
  send();
});

async function drawWaiting() {
  const items = state.token ? await ownQueue() : [];
  $("waiting").textContent = t("waiting", {n: items.length});
  $("net").textContent = navigator.onLine ? t("online") : t("offline");
  // Once everything is sent, a "kept on the phone" notice is out of date.
  if (!items.length && navigator.onLine && notice && notice.kind === "waiting") {
    say(() => t("all_sent"), false, "sent");
  }
}

// --- what was sent: kept on the phone (the last ones), written in the language of the moment -------
const LOG_KEPT = 40;
const people = (n) => (n === 1 ? t("people_one") : t("people_many", {n}));
const deedLine = (d) => t("deed_line", {rule: d.ruleName, quantity: d.quantity, unit: d.unit || "", people: people(d.cards.length)});

function photoNote(problems) {
  const why = problems.map((p) => t("photo_why", {name: p.name, why: problemText(p.body)}));
  return t("photos_failed", {n: problems.length, why: why.join(t("list_sep"))});
}

function logLine(entry) {
  if (entry.kind === "checked_in") return t("checked_in", {name: entry.name});
  if (entry.kind === "checked_in_before") return t("checked_in_before", {card: label(entry.card)});
  if (entry.kind === "checkin_failed") return t("checkin_failed", {problem: problemText(entry.body, [entry.card])});
  const line = entry.status === 202 ? t("deed_pending", {deed: deedLine(entry)}) : t("deed_posted", {deed: deedLine(entry)});
  return entry.photoProblems && entry.photoProblems.length ? t("also", {first: line, next: photoNote(entry.photoProblems)}) : line;
}

async function logSent(entry) {
  const log = (await kvGet("log")) || [];
  log.unshift({...entry, user: state.user, bank: state.bank, at: Date.now()});
  await kvSet("log", log.slice(0, LOG_KEPT));
}

async function drawSent() {
  const log = ((await kvGet("log")) || []).filter(mine);
  $("sent").replaceChildren(...log.map((entry) => {
    const li = document.createElement("li");
    li.textContent = logLine(entry);
    if (entry.kind === "checkin_failed" || (entry.photoProblems && entry.photoProblems.length)) li.className = "warn";
    return li;
  }));
}

// --- what the server would not take: kept, with its reason, to be fixed and resent or dropped ------
async function drawRefused() {
  const items = state.token ? await ownRefused() : [];
  $("refused-part").hidden = !items.length;
  $("refused").replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    const what = document.createElement("strong");
    what.textContent = t("refused_line", {deed: deedLine(item), day: item.occurred_on});
    const cards = document.createElement("span");
    cards.textContent = item.cards.map(label).join(t("list_sep"));
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = problemText(item.refusal, item.cards);
    const parts = [what, cards, why];
    if (item.photoProblems && item.photoProblems.length) {
      const photos = document.createElement("span");
      photos.textContent = photoNote(item.photoProblems);
      parts.push(photos);
    }
    const fix = document.createElement("button");
    fix.type = "button"; fix.className = "small"; fix.textContent = t("fix_resend");
    fix.onclick = () => fixRefused(item);
    const drop = document.createElement("button");
    drop.type = "button"; drop.className = "small"; drop.textContent = t("discard");
    drop.onclick = async () => {
      if (!window.confirm(t("discard_sure", {deed: deedLine(item)}))) return;
      await dropRefused(item.key);
      if (state.fixing && state.fixing.key === item.key) state.fixing = null;
      await drawRefused();
    };
    const buttons = document.createElement("span");
    buttons.className = "row";
    buttons.append(fix, drop);
    li.append(...parts, buttons);
    return li;
  }));
}

// The refused deed back in the form, as it was; submitting it sends it anew (with a new key) and
// takes it off the list. The photos already uploaded go with it.
function fixRefused(item) {
  state.fixing = item;
  $("activity").value = "";
  drawActivities();
  state.people = item.cards.map((card) => ({card}));
  state.rule = state.rules.find((r) => r.code === item.rule) || {code: item.rule, name: item.ruleName, unit: item.unit};
  $("quantity").value = String(item.quantity);
  $("day").value = item.occurred_on;
  $("memo").value = item.memo || "";
  $("photo").value = "";
  checkDay(true);
  drawPeople(); drawRules(); drawChosen();
  say(() => t("fixing", {n: item.evidence.length}));
  $("step-cards").scrollIntoView();
}

// --- sending ---------------------------------------------------------------------------------------
class Later extends Error {}  // the signal went, or the server cannot answer now: keep everything

async function send() {
  if (sending || !state.token || !navigator.onLine) return;
  sending = true;
  let refusedNow = 0;
  try {
    const items = (await ownQueue()).sort((a, b) => a.at - b.at);
    for (const item of items.filter((i) => i.kind === "checkin")) {
      const answer = await call("POST", "/banks/" + state.bank + "/activities/" + item.activity + "/checkins", {card: item.card});
      if (answer.status >= 500 || answer.status === 401 || answer.status === 429) continue;
      await dequeue(item.key);
      await logSent(answer.status === 201 ? {kind: "checked_in", name: answer.data.name}
        : answer.data.error === "already_checked_in" ? {kind: "checked_in_before", card: item.card}
          : {kind: "checkin_failed", card: item.card, body: answer.data});
    }
    const deeds = items.filter((i) => i.kind === "deed").slice(0, 200);
    for (const item of deeds) {
      item.photoProblems = item.photoProblems || [];
      while (item.photos.length) {  // a photo is uploaded once, and its id kept with the deed
        const photo = item.photos[0];
        const form = new FormData();
        form.append("file", new Blob([photo.bytes], {type: photo.type}), photo.name || "photo.jpg");
        const answer = await call("POST", "/banks/" + state.bank + "/photos", form, true);
        if (answer.status === 201) item.evidence.push(answer.data.id);
        else if ([400, 413, 415, 422].includes(answer.status)) item.photoProblems.push({name: photo.name || "", body: answer.data});
        else throw new Later();  // signed out, too many at once, the server down: try again later
        item.photos.shift();
        await enqueue(item);
      }
    }
    if (deeds.length) {
      const body = {deeds: deeds.map((i) => ({key: i.key, rule: i.rule, cards: i.cards, quantity: i.quantity,
                                              occurred_on: i.occurred_on, memo: i.memo, evidence: i.evidence}))};
      const answer = await call("POST", "/banks/" + state.bank + "/deeds/batch", body);
      if (answer.status === 200) {
        for (const result of answer.data.results) {
          const item = deeds.find((d) => d.key === result.key);
          if (!item || result.status >= 500) continue;
          const {photos, ...kept} = item;
          if (result.status < 300) {
            await logSent({kind: "deed", status: result.status, ruleName: item.ruleName, unit: item.unit,
                           quantity: item.quantity, cards: item.cards, photoProblems: item.photoProblems});
          } else {
            await keepRefused({...kept, refusal: result.body, status: result.status});
            refusedNow += 1;
          }
          await dequeue(item.key);
        }
      } else if (answer.status < 500 && answer.status !== 401 && answer.status !== 429) {
        const text = problemText(answer.data);
        say(() => text, true);
      }
    }
  } catch (err) {
    /* the signal went again: everything stays in the queue */
  } finally {
    sending = false;
    await Promise.all([drawWaiting(), drawSent(), drawRefused(), drawOthers()]);
    if (refusedNow) { const n = refusedNow; say(() => t("some_refused", {n}), true); }
  }
}

window.addEventListener("online", () => { drawWaiting(); send(); });
window.addEventListener("offline", drawWaiting);
setInterval(send, 15000);

if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js", {scope: "./"}).catch(() => {});
if (!("BarcodeDetector" in window)) {
  const script = document.createElement("script");
  script.src = "jsQR.js";
  document.head.append(script);
}

$("send-now").addEventListener("click", send);

Promise.all([kvGet("auth"), wordsReady]).then(([auth]) => {
  if (auth && auth.token) {
    state.token = auth.token; state.bank = auth.bank; state.user = auth.user || null;
    start();
  } else {
    showSignin();
  }
});
