// The grid worker's phone app: scan cards, pick a rule, add photos, check people in, submit.
// Everything entered is first written to IndexedDB; it is sent with deeds/batch (each deed with
// its own idempotency key, so a resend never posts twice) whenever the signal is there.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
let state = {token: null, bank: null, rules: [], activities: [], people: [], rule: null};
let sending = false;

// --- words: the field catalogue's messages, served per language at i18n/<lang>.json -------------
// The choice made here is kept on the phone (localStorage, for a start without a signal) and in
// the screens' language cookie (asking with ?lang= sets it); never chosen here, the app follows
// that cookie (i18n.json answers in the reader's language), else Chinese.
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
  if (!$("work").hidden) { drawPeople(); drawRules(); drawActivities(); drawChosen(); await drawWaiting(); }
}));

// --- IndexedDB: "kv" holds the sign-in and the day's rules, "queue" the work not yet sent ----
const db = new Promise((resolve, reject) => {
  const open = indexedDB.open("zongzhi-m", 1);
  open.onupgradeneeded = () => {
    open.result.createObjectStore("kv");
    open.result.createObjectStore("queue", {keyPath: "key"});
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

function say(text, isError) {
  $("notice").textContent = text;
  $("notice").className = isError ? "err" : "";
}

function problemText(data) {
  const fields = Object.values((data && data.fields) || {}).flat();
  return fields.reduce((message, reason) => t("problem", {message, reason}), (data && data.message) || t("failed"));
}

// --- signing in ---------------------------------------------------------------------------------
$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const answer = await call("POST", "/m/token?lang=" + lang, {name: $("name").value, password: $("password").value}, false, "");
    if (answer.status !== 201) { $("signin-error").textContent = problemText(answer.data); return; }
    state.token = answer.data.token;
    state.bank = answer.data.bank;
    await kvSet("auth", {token: state.token, bank: state.bank});
    await start();
  } catch (err) {
    $("signin-error").textContent = t("signin_offline");
  }
});

$("signout").addEventListener("click", async () => {
  await kvSet("auth", null);
  location.reload();
});

async function start() {
  $("signin").hidden = true;
  $("work").hidden = false;
  await drawWaiting();
  $("day").value = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  try {
    const answer = await call("GET", "/banks/" + state.bank + "/phone");
    if (answer.status === 401) { await kvSet("auth", null); return showSignin(); }
    if (answer.status === 200) { await kvSet("day", answer.data); }
  } catch (err) { /* no signal: what was kept last time will do */ }
  const day = await kvGet("day");
  if (day) {
    state.rules = day.rules;
    state.activities = day.activities;
    $("bank").removeAttribute("data-i18n");  // the bank's own name from now on, in any language
    $("bank").textContent = day.name + " · " + day.user;
    if (day.today) $("day").value = day.today;
  }
  drawRules();
  drawActivities();
  await drawWaiting();
  send();
}

function showSignin() {
  $("signin").hidden = false;
  $("work").hidden = true;
}

// --- the people of this deed: scanned cards or typed numbers --------------------------------------
function addCard(text) {
  text = (text || "").trim();
  if (!text) return;
  if (state.people.some((p) => p.card === text)) { say(t("card_seen")); return; }
  const person = {card: text, label: label(text)};
  state.people.push(person);
  drawPeople();
  say(t("card_added", {who: person.label}));
  if ($("activity").value) checkIn(person);
}

function label(text) {
  const token = text.match(/([A-Za-z0-9_-]{22,64})\/?\s*$/);
  return token && !/^[2-9A-Z]{4}-?[2-9A-Z]{4}$/i.test(text) ? t("card_token", {end: token[1].slice(-4)})
    : t("card_number", {number: text.toUpperCase()});
}

function drawPeople() {
  $("people").replaceChildren(...state.people.map((p, i) => {
    const li = document.createElement("li");
    li.textContent = p.name ? t("person", {name: p.name, card: p.label}) : p.label;
    const remove = document.createElement("button");
    remove.type = "button"; remove.className = "small"; remove.textContent = t("remove");
    remove.onclick = () => { state.people.splice(i, 1); drawPeople(); };
    li.append(remove);
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
    say(t("no_camera"), true);
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
function drawRules() {
  const q = $("rule-q").value.trim().toLowerCase();
  const shown = state.rules.filter((r) => !q || r.initials.split(" ").some((i) => i.startsWith(q))
    || r.name.includes(q) || r.code.startsWith(q)).slice(0, 8);
  $("rules").replaceChildren(...shown.map((r) => {
    const li = document.createElement("li");
    li.textContent = t("rule_line", {name: r.name, points: (r.points > 0 ? "+" : "") + r.points, unit: r.unit});
    li.dataset.code = r.code;
    if (state.rule && state.rule.code === r.code) li.className = "on";
    li.onclick = () => { state.rule = r; drawChosen(); drawRules(); };
    return li;
  }));
}

function drawChosen() {
  $("rule-chosen").textContent = state.rule ? t("rule_chosen", {rule: state.rule.name}) : "";
}
$("rule-q").addEventListener("input", drawRules);

// --- activities and check-ins ---------------------------------------------------------------------
function drawActivities() {
  const keep = $("activity").value;
  $("activity").replaceChildren($("activity").options[0], ...state.activities.map((a) => {
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
                 activity: $("activity").value, card: person.card, at: Date.now()});
  state.people = [];
  drawPeople();
  await drawWaiting();
  send();
}

// --- submitting: into the queue first, then sent when there is a signal -----------------------------
$("submit").addEventListener("click", async () => {
  if ($("activity").value) { say(t("checkin_mode")); return; }
  if (!state.people.length) { say(t("no_people"), true); return; }
  if (!state.rule) { say(t("no_rule"), true); return; }
  const photos = Array.from($("photo").files || []).slice(0, 4);
  const item = {key: crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random(),
                kind: "deed", at: Date.now(), rule: state.rule.code, ruleName: state.rule.name,
                cards: state.people.map((p) => p.card), quantity: Number($("quantity").value) || 1,
                occurred_on: $("day").value, memo: $("memo").value.trim() || null,
                photos: await Promise.all(photos.map((f) => f.arrayBuffer().then((b) => ({type: f.type, bytes: b})))),
                evidence: []};
  await enqueue(item);
  state.people = []; state.rule = null;
  $("memo").value = ""; $("photo").value = ""; $("quantity").value = "1";
  drawPeople(); drawRules(); drawChosen();
  await drawWaiting();
  say(navigator.onLine ? t("saved") : t("saved_offline"));
  send();
});

async function drawWaiting() {
  const items = await queued();
  $("waiting").textContent = t("waiting", {n: items.length});
  $("net").textContent = navigator.onLine ? t("online") : t("offline");
}

function logSent(text) {
  const li = document.createElement("li");
  li.textContent = text;
  $("sent").prepend(li);
}

async function send() {
  if (sending || !state.token || !navigator.onLine) return;
  sending = true;
  try {
    const items = (await queued()).sort((a, b) => a.at - b.at);
    for (const item of items.filter((i) => i.kind === "checkin")) {
      const answer = await call("POST", "/banks/" + state.bank + "/activities/" + item.activity + "/checkins", {card: item.card});
      if (answer.status >= 500) continue;
      await dequeue(item.key);
      logSent(answer.status === 201 ? t("checked_in", {name: answer.data.name})
        : answer.data.error === "already_checked_in" ? t("checked_in_before", {card: label(item.card)})
          : t("checkin_failed", {problem: problemText(answer.data)}));
    }
    const deeds = items.filter((i) => i.kind === "deed").slice(0, 200);
    for (const item of deeds) {
      while (item.photos.length) {  // a photo is uploaded once, and its id kept with the deed
        const form = new FormData();
        form.append("file", new Blob([item.photos[0].bytes], {type: item.photos[0].type}), "photo.jpg");
        const answer = await call("POST", "/banks/" + state.bank + "/photos", form, true);
        if (answer.status >= 500) throw new Error("server");
        if (answer.status === 201) item.evidence.push(answer.data.id);
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
          await dequeue(result.key);
          const deed = {rule: item.ruleName, n: item.cards.length};
          logSent(result.status === 202 ? t("deed_pending", deed) : result.status < 300 ? t("deed_posted", deed)
            : t("deed_refused", {rule: item.ruleName, problem: problemText(result.body)}));
        }
      } else if (answer.status < 500) {
        say(problemText(answer.data), true);
      }
    }
  } catch (err) {
    /* the signal went again: everything stays in the queue */
  } finally {
    sending = false;
    await drawWaiting();
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
  if (auth && auth.token) { state.token = auth.token; state.bank = auth.bank; start(); } else { showSignin(); }
});
