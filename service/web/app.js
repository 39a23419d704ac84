// The person-search page: search by description or example, one result per person, follow a track,
// see each crop's frame, watch the cameras, upload crops. No build step.

import { $, api, headers, keyInput, loadImage, text } from "./common.js";
import { startAlerts } from "./alerts.js";
import { refreshCameras } from "./cameras.js";
import { actions, trackLine } from "./investigate.js";

let role = "edge"; // a fleet hub searches every site: no uploads, a site filter instead of cameras
let alertsStarted = false; // the live alert stream starts once, when the edge is ready
let example = null; // search by example: { item_id } of the crop "find similar" was pressed on
keyInput.addEventListener("change", () => {
  localStorage.setItem("person-search-key", keyInput.value);
  refresh();
});

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
  const track = trackLine(item, match.crops);
  if (track) meta.append(track);
  if (role !== "hub") meta.append(actions(item, findSimilar));
  li.append(img, meta);
  return li;
}

function findSimilar(item) {
  example = { item_id: item.id };
  $("example").hidden = false;
  $("example-text").textContent = `like crop ${item.id}${$("query").value.trim() ? " and the description" : ""}`;
  runSearch();
}

async function search(event) {
  event.preventDefault();
  example = null;
  $("example").hidden = true;
  runSearch();
}

async function runSearch() {
  const q = $("query").value.trim();
  if (!q && !example) return;
  const body = { top_k: Number($("top-k").value) };
  if (q) body.text = q;
  if (example) body.like = example;
  if (role !== "hub" && $("group").checked) body.group_by = "track";
  if ($("by-time").checked) body.order = "time";
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
    const unit = result.group_by === "track" ? "people" : "crops";
    info.textContent = `${result.count} ${unit} from ${result.gallery_size} crops · ${t.total.toFixed(1)} ms ` +
      `(search ${t.search.toFixed(1)})${result.cached ? " · cached" : ""}`;
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
    refreshCameras();
    if (!alertsStarted) { alertsStarted = true; startAlerts(); }
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
  $("cameras-section").hidden = role === "hub";
  $("alerts-section").hidden = role === "hub";
  $("group").parentElement.hidden = role === "hub";
}

$("search-form").addEventListener("submit", search);
$("upload-form").addEventListener("submit", upload);
$("clear-example").addEventListener("click", () => { example = null; $("example").hidden = true; });
setInterval(() => { if (role !== "hub" && !document.hidden) refreshCameras(); }, 3000);
refresh();
