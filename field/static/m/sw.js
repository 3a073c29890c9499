// The phone app's service worker: keeps the app shell so it opens without a signal.
// API requests always go to the network; the app keeps unsent work in IndexedDB itself.
// A new SHELL name replaces the caches of older versions of the app when it activates.
const SHELL = "zongzhi-m-v4";
const FILES = ["./", "app.js", "app.css", "jsQR.js", "manifest.webmanifest", "icon.svg",
               "i18n/zh.json", "i18n/en.json"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== SHELL).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/m/")) {
    return;
  }
  // Network first, so a new version reaches the phone; the cache when there is no signal.
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(SHELL).then((cache) => cache.put(event.request, copy));
    }
    return response;
  }).catch(() => caches.match(event.request, {ignoreSearch: true})));
});
