// What every part of the page shares: element lookup, the API key, JSON calls and authorised images.

export const $ = (id) => document.getElementById(id);
export const keyInput = $("api-key");
keyInput.value = localStorage.getItem("person-search-key") || "";

export function headers(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { ...extra, "X-API-Key": key } : extra;
}

export async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = body?.error;
    throw new Error(error ? `${error.status} ${error.code}: ${error.message}` : `HTTP ${response.status}`);
  }
  return body;
}

// Images need the API key too when one is set, so they are fetched and shown as blob URLs.
export async function loadImage(img, url) {
  if (!keyInput.value.trim()) {
    img.src = url;
    return;
  }
  try {
    const response = await fetch(url, { headers: headers() });
    if (response.ok) img.src = URL.createObjectURL(await response.blob());
  } catch (_) { /* leave the placeholder */ }
}

export function text(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = content;
  return node;
}
