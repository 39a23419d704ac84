// Following a person: find similar crops, a track's crops over time, and the evidence frame with its box.

import { $, api, loadImage, text } from "./common.js";

export function trackLine(item, crops) {
  const track = item.track;
  if (!track) return null;
  const span = `${track.first_seen.slice(11, 19)}–${track.last_seen.slice(11, 19)}`;
  return text("div", "track", `track ${track.id}${crops ? ` · ${crops} crops` : ""} · ${span}`);
}

export function actions(item, findSimilar) {
  const bar = document.createElement("div");
  bar.className = "actions";
  const similar = text("button", "link similar", "find similar");
  similar.type = "button";
  similar.addEventListener("click", () => findSimilar(item));
  bar.append(similar);
  if (item.track) {
    const show = text("button", "link show-track", "show track");
    show.type = "button";
    show.addEventListener("click", () => showTrack(item.track.id));
    bar.append(show);
  }
  if (item.frame_url) {
    const frame = text("button", "link show-frame", "frame");
    frame.type = "button";
    frame.addEventListener("click", () => showFrame(item));
    bar.append(frame);
  }
  return bar;
}

function openViewer(title) {
  $("viewer").hidden = false;
  $("viewer-title").textContent = title;
  $("viewer-frame").hidden = true;
  $("viewer-track").replaceChildren();
  $("viewer").scrollIntoView({ behavior: "smooth" });
}

export async function showTrack(trackId) {
  openViewer(`track ${trackId}`);
  try {
    const track = await api(`/tracks/${trackId}`);
    $("viewer-title").textContent = `track ${trackId} · ${track.camera || "no camera"} · ` +
      `${track.first_seen.replace("T", " ").slice(0, 19)} → ${track.last_seen.slice(11, 19)} · ${track.items.length} crops`;
    $("viewer-track").replaceChildren(...track.items.map((item) => {
      const li = document.createElement("li");
      li.className = "card";
      const img = document.createElement("img");
      img.alt = `crop ${item.id}`;
      loadImage(img, item.image_url);
      li.append(img, text("div", "sub", item.captured_at?.slice(11, 22) || `id ${item.id}`));
      return li;
    }));
  } catch (error) {
    $("viewer-title").textContent = error.message;
  }
}

export function showFrame(item) {
  openViewer(`frame of crop ${item.id}${item.camera ? ` · ${item.camera}` : ""}`);
  const img = $("viewer-frame");
  img.hidden = false;
  loadImage(img, item.frame_url);
}

$("close-viewer").addEventListener("click", () => { $("viewer").hidden = true; });
