// hearth's chat page: models from /v1/models (what each can do from /ui/api/models), answers
// streamed from /v1/chat/completions, conversations saved in hearth's store (/ui/api/…).

import {
  ApiError, getJSON, onKeyNeeded, rememberKey, sendJSON, streamChat,
} from "./api.js";
import { Answer, toWire, userMessage } from "./messages.js";
import { conversationItem, messageElement, note, updateAnswer } from "./render.js";

const $ = (id) => document.getElementById(id);
const SAMPLING = ["temperature", "top_p", "top_k", "min_p", "max_tokens", "seed"];
const INTEGERS = new Set(["top_k", "max_tokens", "seed"]);
const SETTINGS_NAME = "hearth.settings";
const FINISH_TO_STOP = {
  stop: "end_turn", length: "max_tokens", tool_calls: "tool_use", content_filter: "content_filter",
};
const MAX_IMAGE_BYTES = 5 * 1024 * 1024; // the server takes 8 MiB per request, base64 included

const state = {
  models: {}, // id → {id, status, chat, vision, …}
  conversation: { id: null, messages: [] },
  controller: null, // AbortController of the answer being streamed
  images: [], // attached, not yet sent: {mediaType, data, url}
};

// --- errors and the API key ---------------------------------------------------------------

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function askForKey(message) {
  const dialog = $("key-dialog");
  $("key-message").textContent = message || "This server needs an API key.";
  $("key-input").value = "";
  return new Promise((resolve) => {
    const finish = (key) => {
      $("key-form").removeEventListener("submit", submit);
      $("key-cancel").removeEventListener("click", cancel);
      dialog.close();
      resolve(key);
    };
    const submit = (event) => {
      event.preventDefault();
      const key = $("key-input").value.trim();
      if (!key) return;
      rememberKey(key, $("key-remember").checked);
      finish(key);
    };
    const cancel = () => finish(null);
    $("key-form").addEventListener("submit", submit);
    $("key-cancel").addEventListener("click", cancel);
    dialog.showModal();
  });
}

// --- models -------------------------------------------------------------------------------

async function loadModels() {
  const [listed, abilities] = await Promise.all([
    getJSON("/v1/models"),
    getJSON("/ui/api/models"),
  ]);
  state.models = Object.fromEntries(abilities.data.map((m) => [m.id, m]));
  const select = $("model");
  const chosen = select.value || localStorage.getItem("hearth.model");
  select.replaceChildren();
  for (const model of listed.data) {
    const about = state.models[model.id];
    if (about && !about.chat) continue; // embedding models
    const option = document.createElement("option");
    option.value = model.id;
    option.textContent = model.id;
    select.append(option);
  }
  if (chosen && [...select.options].some((o) => o.value === chosen)) select.value = chosen;
  modelChanged();
}

function modelChanged() {
  const about = state.models[$("model").value] || {};
  localStorage.setItem("hearth.model", $("model").value);
  const status = $("model-status");
  status.textContent = about.status === "ready" ? "" : about.status || "";
  if (about.status === "loading") setTimeout(() => loadModels().catch(report), 2000);
  const attach = $("attach");
  attach.disabled = !about.vision;
  attach.title = about.vision ? "Attach an image" : "This model does not take images";
  if (!about.vision) clearImages();
}

// --- settings -----------------------------------------------------------------------------

function sampling() {
  const out = {};
  for (const name of SAMPLING) {
    const raw = $(name).value.trim();
    if (raw === "") continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || (INTEGERS.has(name) && !Number.isInteger(value))) {
      throw new ApiError(0, `${name}: ${raw} is not a valid ${INTEGERS.has(name) ? "whole number" : "number"}`);
    }
    out[name] = value;
  }
  return out;
}

function saveSettings() {
  const values = Object.fromEntries(SAMPLING.map((name) => [name, $(name).value]));
  localStorage.setItem(SETTINGS_NAME, JSON.stringify(values));
}

function restoreSettings() {
  try {
    const values = JSON.parse(localStorage.getItem(SETTINGS_NAME) || "{}");
    for (const name of SAMPLING) if (typeof values[name] === "string") $(name).value = values[name];
  } catch {
    localStorage.removeItem(SETTINGS_NAME);
  }
}

// --- images -------------------------------------------------------------------------------

function clearImages() {
  state.images = [];
  $("attachments").replaceChildren();
}

function showImages() {
  const box = $("attachments");
  box.replaceChildren();
  state.images.forEach((image, index) => {
    const item = document.createElement("span");
    item.className = "attachment";
    const img = document.createElement("img");
    img.src = image.url;
    img.alt = "image to send";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "×";
    remove.title = "Remove this image";
    remove.addEventListener("click", () => {
      state.images.splice(index, 1);
      showImages();
    });
    item.append(img, remove);
    box.append(item);
  });
}

function readImage(file) {
  return new Promise((resolve, reject) => {
    if (file.size > MAX_IMAGE_BYTES) {
      reject(new ApiError(0, `${file.name} is ${(file.size / 1048576).toFixed(1)} MB; images up to 5 MB can be sent`));
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      const match = /^data:([^;,]+);base64,(.*)$/.exec(url);
      if (match) resolve({ mediaType: match[1], data: match[2], url });
      else reject(new ApiError(0, `${file.name} could not be read as an image`));
    };
    reader.onerror = () => reject(new ApiError(0, `${file.name} could not be read`));
    reader.readAsDataURL(file);
  });
}

async function attachImages(files) {
  for (const file of files) state.images.push(await readImage(file));
  showImages();
}

// --- conversations ------------------------------------------------------------------------

async function loadConversations() {
  const { data } = await getJSON("/ui/api/conversations");
  const list = $("conversations");
  list.replaceChildren(...data.map((info) => conversationItem(info, openConversation, deleteConversation)));
  $("conversations-empty").hidden = data.length > 0;
  markCurrent();
}

function markCurrent() {
  for (const item of $("conversations").children) {
    item.classList.toggle("current", item.dataset.id === state.conversation.id);
  }
}

function showConversation() {
  const box = $("messages");
  box.replaceChildren();
  const stops = state.conversation.stops || [];
  let turn = -1;
  for (const message of state.conversation.messages) {
    if (message.role === "user") turn += 1;
    const stopped = message.role === "assistant" && stops[turn] === "cancelled";
    box.append(messageElement(message, stopped ? "stopped" : "done"));
  }
  if (!box.children.length) box.append(welcome);
  box.scrollTop = box.scrollHeight;
}

async function openConversation(id) {
  if (state.controller) return;
  const data = await getJSON(`/ui/api/conversations/${encodeURIComponent(id)}`).catch(report);
  if (!data) return;
  state.conversation = { id: data.id, messages: data.messages, stops: data.stop_reasons };
  $("system").value = data.system || "";
  if (data.model && [...$("model").options].some((o) => o.value === data.model)) {
    $("model").value = data.model;
    modelChanged();
  }
  showError("");
  showConversation();
  markCurrent();
}

async function deleteConversation(info) {
  if (!window.confirm(`Delete “${info.title || "this conversation"}”?`)) return;
  await sendJSON("DELETE", `/ui/api/conversations/${encodeURIComponent(info.id)}`);
  if (state.conversation.id === info.id) newChat();
  await loadConversations();
}

function newChat() {
  if (state.controller) return;
  state.conversation = { id: null, messages: [] };
  showError("");
  showConversation();
  markCurrent();
  $("prompt").focus();
}

async function saveTurn(user, assistant, stopReason) {
  const messages = [user, assistant];
  const conversation = state.conversation;
  if (conversation.id === null) {
    const { id } = await sendJSON("POST", "/ui/api/conversations", {
      model: $("model").value, system: $("system").value || null, messages, stop_reason: stopReason,
    });
    conversation.id = id;
  } else {
    await sendJSON("POST", `/ui/api/conversations/${encodeURIComponent(conversation.id)}/turns`,
      { messages, stop_reason: stopReason });
  }
  (conversation.stops ||= []).push(stopReason);
  await loadConversations();
}

// --- sending ------------------------------------------------------------------------------

function busy(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
  $("prompt").readOnly = on;
}

function follow(box, pinned) {
  if (pinned) box.scrollTop = box.scrollHeight;
}

async function send() {
  const text = $("prompt").value.trim();
  if (state.controller || (!text && !state.images.length)) return;
  showError("");
  let settings;
  try {
    settings = sampling();
  } catch (error) {
    report(error);
    return;
  }
  const user = userMessage(text, state.images);
  const body = {
    model: $("model").value,
    messages: toWire($("system").value, [...state.conversation.messages, user]),
    stream: true,
    stream_options: { include_usage: true },
    ...settings,
  };
  const box = $("messages");
  welcome.remove();
  box.append(messageElement(user));
  const node = messageElement({ role: "assistant", parts: [] }, "streaming");
  box.append(node);
  box.scrollTop = box.scrollHeight;
  $("prompt").value = "";
  const images = state.images;
  clearImages();
  await answer(body, user, node, text, images);
}

async function answer(body, user, node, text, images) {
  const box = $("messages");
  const reply = new Answer();
  let drawn = false;
  let stopReason = null;
  state.controller = new AbortController();
  busy(true);
  try {
    await streamChat(body, state.controller.signal, (chunk) => {
      reply.add(chunk);
      if (drawn) return;
      drawn = true;
      requestAnimationFrame(() => {
        drawn = false;
        const pinned = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
        updateAnswer(node, reply);
        follow(box, pinned);
      });
    });
    stopReason = FINISH_TO_STOP[reply.finish] || "end_turn";
  } catch (error) {
    if (error.name === "AbortError") {
      stopReason = "cancelled";
    } else {
      node.previousElementSibling.remove(); // the question goes back in the box
      node.remove();
      $("prompt").value = text;
      state.images = images;
      showImages();
      report(error);
    }
  }
  try {
    if (stopReason) await finish(node, user, reply, stopReason);
  } finally {
    state.controller = null;
    busy(false);
    // the answer is shown whole and saved: its state says so last
    if (stopReason) node.dataset.state = stopReason === "cancelled" ? "stopped" : "done";
    $("prompt").focus();
  }
}

// Show the whole answer, keep it in the conversation and save the turn.
async function finish(node, user, reply, stopReason) {
  updateAnswer(node, reply);
  node.dataset.state = "saving";
  if (stopReason === "cancelled") note(node, "Stopped.");
  else if (stopReason === "max_tokens") note(node, "Cut off at the token limit.");
  const assistant = reply.message();
  state.conversation.messages.push(user, assistant);
  try {
    await saveTurn(user, assistant, stopReason);
  } catch (error) {
    report(new ApiError(0, `the answer was not saved: ${error.message}`));
  }
}

function report(error) {
  showError(error instanceof Error ? error.message : String(error));
}

// --- wiring -------------------------------------------------------------------------------

const welcome = $("welcome");

function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  $("prompt").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("new-chat").addEventListener("click", newChat);
  $("model").addEventListener("change", modelChanged);
  $("attach").addEventListener("click", () => $("image-input").click());
  $("image-input").addEventListener("change", (event) => {
    attachImages([...event.target.files]).catch(report);
    event.target.value = "";
  });
  $("settings-toggle").addEventListener("click", () => {
    const panel = $("settings");
    panel.hidden = !panel.hidden;
    $("settings-toggle").setAttribute("aria-expanded", String(!panel.hidden));
  });
  for (const name of SAMPLING) $(name).addEventListener("change", saveSettings);
  onKeyNeeded(askForKey);
}

async function start() {
  wire();
  restoreSettings();
  try {
    await loadModels();
    await loadConversations();
    document.body.dataset.ready = "true";
  } catch (error) {
    report(error);
  }
  $("prompt").focus();
}

start();
