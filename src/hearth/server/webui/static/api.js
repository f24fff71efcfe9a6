// Talking to hearth: the API key (asked for once), JSON calls, and the chat completion stream
// (fetch + ReadableStream over Server-Sent Events).

const KEY_NAME = "hearth.apiKey";

let apiKey = sessionStorage.getItem(KEY_NAME) || localStorage.getItem(KEY_NAME) || "";
let askKey = async () => null; // set by the page: shows the key dialog, resolves to a key or null

export function onKeyNeeded(ask) {
  askKey = ask;
}

export function rememberKey(key, onThisDevice) {
  apiKey = key;
  sessionStorage.setItem(KEY_NAME, key);
  if (onThisDevice) localStorage.setItem(KEY_NAME, key);
  else localStorage.removeItem(KEY_NAME);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let asking = null; // the key dialog being shown: calls that meet a 401 meanwhile wait for it

function keyAgain(refused) {
  if (!asking) {
    const message = refused ? "That key was refused; enter the right one." : null;
    asking = askKey(message).finally(() => {
      asking = null;
    });
  }
  return asking;
}

// fetch() with the key as a bearer token; on 401 the key is asked for and the call made again.
export async function call(path, options = {}) {
  for (;;) {
    const used = apiKey;
    const headers = new Headers(options.headers || {});
    if (used) headers.set("Authorization", `Bearer ${used}`);
    const response = await fetch(path, { ...options, headers });
    if (response.status !== 401) return response;
    if (apiKey !== used) continue; // another call was given a new key meanwhile
    const key = await keyAgain(Boolean(used));
    if (!key) throw new ApiError(401, "this server needs an API key");
  }
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message);
}

export async function getJSON(path) {
  const response = await call(path);
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export async function sendJSON(method, path, body) {
  const response = await call(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

// The data of each complete SSE event in `buffer`, and what is left of it.
export function splitEvents(buffer) {
  const events = [];
  const normalized = buffer.replace(/\r\n?/g, "\n");
  const frames = normalized.split("\n\n");
  const rest = frames.pop();
  for (const frame of frames) {
    const data = frame
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).replace(/^ /, ""))
      .join("\n");
    if (data) events.push(data);
  }
  return { events, rest };
}

// Stream a chat completion. `onChunk` gets each parsed chunk; resolves when the stream ends.
// Aborting `signal` cancels the request (the server stops generating when the client goes).
export async function streamChat(body, signal, onChunk) {
  const response = await call("/v1/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await errorOf(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const { events, rest } = splitEvents(buffer);
    buffer = rest;
    for (const data of events) {
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(0, chunk.error.message || "the stream failed");
      onChunk(chunk);
    }
  }
}
