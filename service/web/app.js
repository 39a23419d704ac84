// The person-search page: search by description, browse ranked crops, upload new ones. No build step.

const $ = (id) => document.getElementById(id);
let role = "edge"; // a fleet hub searches every site: no uploads, a site filter instead of cameras
const keyInput = $("api-key");
keyInput.value = localStorage.getItem("person-search-key") || "";
keyInput.addEventListener("change", () => {
  localStorage.setItem("person-search-key", keyInput.value);
  refresh();
});

function headers(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = body?.error;
    throw new Error(error ? `${error.status} ${error.code}: ${error.message}` : `HTTP ${response.status}`);
  }
  return body;
}

// Images need the API key too when one is set, so they are fetched and shown as blob URLs.
async function loadImage(img, url) {
  if (!keyInput.value.trim()) {
    img.src = url;
    return;
  }
  try {
    const response = await fetch(url, { headers: headers() });
    if (response.ok) img.src = URL.createObjectURL(await response.blob());
  } catch (_) { /* leave the placeholder */ }
}

function text(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = content;
  return node;
}

function card(match) {
  const { item } = match;
  const li = document.createElement("li");
  li.className = "card";
  li.dataset.id = item.id;
  const img = document.createElement("img");
  img.alt = `gallery item ${item.id}`;
  img.loading = "lazy";
  loadImage(img, item.image_url);
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.append(text("span", "rank", `#${match.rank}`), text("div", "score", match.score.toFixed(3)));
  const details = [item.site, item.camera, item.captured_at?.replace("T", " ").slice(0, 19), item.external_id, `id ${item.id}`];
  meta.append(text("div", "sub", details.filter(Boolean).join(" · ")));
  li.append(img, meta);
  return li;
}

async function search(event) {
  event.preventDefault();
  const q = $("query").value.trim();
  if (!q) return;
  const body = { text: q, top_k: Number($("top-k").value) };
  if (role === "hub") {
    const sites = $("sites").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (sites.length) body.filters = { sites };
  } else if ($("camera").value) {
    body.filters = { cameras: [$("camera").value] };
  }
  const info = $("search-info");
  info.className = "info";
  info.textContent = "searching…";
  try {
    const result = await api("/search", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    $("results").replaceChildren(...result.matches.map(card));
    const t = result.timings_ms;
    info.textContent = `${result.count} of ${result.gallery_size} crops · ${t.total.toFixed(1)} ms ` +
      `(encode ${t.encode.toFixed(1)}, search ${t.search.toFixed(1)})${result.cached ? " · cached" : ""}`;
  } catch (error) {
    info.className = "info error";
    info.textContent = error.message;
  }
}

function upload(event) {
  event.preventDefault();
  const form = new FormData();
  for (const file of $("files").files) form.append("files", file);
  for (const [id, name] of [["up-camera", "camera"], ["up-external", "external_id"], ["up-metadata", "metadata"]]) {
    if ($(id).value.trim()) form.append(name, $(id).value.trim());
  }
  if ($("up-captured").value) form.append("captured_at", new Date($("up-captured").value).toISOString());
  const bar = $("upload-progress"), info = $("upload-info"), button = event.submitter;
  bar.hidden = false;
  bar.value = 0;
  button.disabled = true;
  info.className = "info";
  info.textContent = "uploading…";
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/gallery");
  for (const [name, value] of Object.entries(headers())) xhr.setRequestHeader(name, value);
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total; };
  xhr.onloadend = () => {
    button.disabled = false;
    bar.value = 100;
    let body = null;
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
    const items = body?.items || body?.error?.details || [];
    $("upload-outcomes").replaceChildren(...items.map((o) => text("li", o.status,
      `${o.filename}: ${o.status}${o.id ? ` (id ${o.id})` : ""}${o.error ? ` — ${o.error.message}` : ""}`)));
    if (xhr.status === 200) {
      info.textContent = `${body.added} added, ${body.duplicates} duplicates, ${body.failed} failed`;
      refresh();
    } else {
      info.className = "info error";
      info.textContent = body?.error ? `${body.error.status} ${body.error.code}: ${body.error.message}` : `HTTP ${xhr.status}`;
    }
  };
  xhr.send(form);
}

async function refresh() {
  const status = $("status");
  try {
    const response = await fetch("/health");
    const health = await response.json();
    showRole(health.role);
    const error = health.error || health.milvus?.error;
    const size = role === "hub" ? `fleet hub · ${health.milvus?.count} crops across sites` : `${health.gallery_size} crops`;
    status.className = `pill ${health.ready ? "ok" : "bad"}`;
    status.textContent = health.ready
      ? `${health.arch} · ${health.backend}/${health.precision} on ${health.device} · ${size}`
      : `${health.status}${error ? ": " + error : ""}`;
    if (!health.ready) { setTimeout(refresh, 1000); return; }
    if (role === "hub") return;
    const page = await api("/gallery?limit=1");
    const select = $("camera"), chosen = select.value;
    select.replaceChildren(text("option", "", "all cameras"), ...page.cameras.map((c) => text("option", "", c)));
    select.options[0].value = "";
    select.value = page.cameras.includes(chosen) ? chosen : "";
  } catch (error) {
    status.className = "pill bad";
    status.textContent = error.message;
  }
}

function showRole(name) {
  role = name === "hub" ? "hub" : "edge";
  $("upload-section").hidden = role === "hub";
  $("camera").hidden = role === "hub";
  $("sites").hidden = role !== "hub";
}

$("search-form").addEventListener("submit", search);
$("upload-form").addEventListener("submit", upload);
refresh();
