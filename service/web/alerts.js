// Alerts as they are raised (the SSE stream, read with fetch so an API key can go along), the recent
// history, acknowledging, and a form that starts a watchlist from a description.

import { $, api, headers, loadImage, text } from "./common.js";
import { showFrame } from "./investigate.js";

const shown = new Set();

function entry(alert, fresh) {
  const li = document.createElement("li");
  li.className = `alert${fresh ? " fresh" : ""}${alert.acked ? " acked" : ""}`;
  li.dataset.id = alert.id;
  const img = document.createElement("img");
  img.alt = `alert ${alert.id}`;
  loadImage(img, alert.image_url);
  const when = (alert.time || alert.created_at).replace("T", " ").slice(0, 19);
  const what = text("div", "what", `${alert.watchlist} · ${alert.camera || "upload"} · ${when} · score ${alert.score.toFixed(3)}`);
  li.append(img, what);
  if (alert.frame_url) {
    const frame = text("button", "link", "frame");
    frame.type = "button";
    frame.addEventListener("click", () => showFrame({ id: alert.item_id, frame_url: alert.frame_url, camera: alert.camera }));
    li.append(frame);
  }
  if (!alert.acked) {
    const ack = text("button", "link ack", "acknowledge");
    ack.type = "button";
    ack.addEventListener("click", async () => {
      await api(`/alerts/${alert.id}/ack`, { method: "POST" });
      li.classList.add("acked");
      li.classList.remove("fresh");
      ack.remove();
    });
    li.append(ack);
  }
  return li;
}

function show(alert, fresh) {
  if (shown.has(alert.id)) return;
  shown.add(alert.id);
  $("alerts").prepend(entry(alert, fresh));
}

async function history() {
  const page = await api("/alerts?limit=20");
  for (const alert of page.alerts.reverse()) show(alert, false);
  return page.alerts.reduce((top, a) => Math.max(top, a.id), 0);
}

function parse(block) {
  const fields = {};
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const at = line.indexOf(":");
    const name = line.slice(0, at), value = line.slice(at + 1).replace(/^ /, "");
    fields[name] = name === "data" && fields.data ? `${fields.data}\n${value}` : value;
  }
  return fields;
}

async function follow(after) {
  const live = $("alerts-live");
  for (;;) {
    try {
      const response = await fetch(`/alerts/stream?after=${after}`, { headers: headers() });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      live.className = "pill ok";
      live.textContent = "live";
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parse(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (event.event === "alert" && event.data) {
            const sent = JSON.parse(event.data); // the payload every channel sends: its id is alert_id
            const alert = { ...sent, id: sent.alert_id };
            after = Math.max(after, alert.id);
            show(alert, true);
          }
        }
      }
    } catch (_) {
      live.className = "pill bad";
      live.textContent = "offline";
    }
    await new Promise((done) => setTimeout(done, 2000));
  }
}

async function watch(event) {
  event.preventDefault();
  const description = $("watch-text").value.trim();
  if (!description) return;
  try {
    const made = await api("/watchlists", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: description.slice(0, 60), text: description }),
    });
    $("alerts-info").textContent = `watching for "${made.name}" (watchlist ${made.id})`;
    $("watch-text").value = "";
  } catch (error) {
    $("alerts-info").textContent = error.message;
  }
}

export async function startAlerts() {
  $("watch-form").addEventListener("submit", watch);
  try {
    follow(await history());
  } catch (error) {
    $("alerts-info").textContent = error.message;
  }
}
