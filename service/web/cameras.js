// The cameras the service reads: their state, refreshed every few seconds.

import { $, api, text } from "./common.js";

function row(camera) {
  const tr = document.createElement("tr");
  const state = !camera.enabled ? "off" : camera.connected ? "connected" : camera.running ? "connecting" : "stopped";
  tr.className = state;
  tr.append(
    text("td", "", camera.name),
    text("td", "state", state),
    text("td", "", `${camera.fps_in.toFixed(1)} / ${camera.fps_out.toFixed(1)}`),
    text("td", "", String(camera.open_tracks)),
    text("td", "", String(camera.tracks)),
    text("td", "", String(camera.crops)),
    text("td", "error", camera.last_error || ""),
  );
  return tr;
}

export async function refreshCameras() {
  try {
    const cameras = await api("/cameras");
    $("cameras").tBodies[0].replaceChildren(...cameras.map(row));
    $("cameras-info").textContent = cameras.length ? "" : "no cameras (POST /cameras adds one)";
  } catch (error) {
    $("cameras-info").textContent = error.message;
  }
}
