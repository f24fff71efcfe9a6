// Conversations are kept in hearth's own message JSON (what the store saves):
//   {role: "user" | "assistant" | "tool", parts: [{kind: "text", text}, {kind: "image",
//    media_type, data}, {kind: "thinking", text}, {kind: "tool_call", id, name, arguments},
//    {kind: "tool_result", call_id, content, name?}]}
// This module turns them into OpenAI chat messages, and gathers a streamed answer into one.

export function userMessage(text, images) {
  const parts = [];
  if (text) parts.push({ kind: "text", text });
  for (const image of images) {
    parts.push({ kind: "image", media_type: image.mediaType, data: image.data });
  }
  return { role: "user", parts };
}

function userToWire(parts) {
  const shown = parts.filter((p) => p.kind === "text" || p.kind === "image");
  if (shown.every((p) => p.kind === "text")) {
    return { role: "user", content: shown.map((p) => p.text).join("") };
  }
  return {
    role: "user",
    content: shown.map((p) =>
      p.kind === "text"
        ? { type: "text", text: p.text }
        : { type: "image_url", image_url: { url: `data:${p.media_type};base64,${p.data}` } },
    ),
  };
}

function assistantToWire(parts) {
  const text = parts
    .filter((p) => p.kind === "text")
    .map((p) => p.text)
    .join("");
  const calls = parts
    .filter((p) => p.kind === "tool_call")
    .map((p) => ({ id: p.id, type: "function", function: { name: p.name, arguments: p.arguments } }));
  const message = { role: "assistant", content: calls.length && !text ? null : text };
  if (calls.length) message.tool_calls = calls;
  return message;
}

// The OpenAI `messages` for `system` and the conversation (thinking is not sent back).
export function toWire(system, messages) {
  const out = system ? [{ role: "system", content: system }] : [];
  for (const message of messages) {
    if (message.role === "user") out.push(userToWire(message.parts));
    else if (message.role === "assistant") out.push(assistantToWire(message.parts));
    for (const part of message.parts) {
      if (part.kind === "tool_result") {
        out.push({ role: "tool", tool_call_id: part.call_id, content: part.content });
      }
    }
  }
  return out;
}

// Gathers `chat.completion.chunk`s into an assistant message.
export class Answer {
  constructor() {
    this.thinking = "";
    this.text = "";
    this.calls = [];
    this.finish = null;
    this.usage = null;
  }

  add(chunk) {
    if (chunk.usage) this.usage = chunk.usage;
    const choice = (chunk.choices || [])[0];
    if (!choice) return;
    const delta = choice.delta || {};
    if (typeof delta.reasoning_content === "string") this.thinking += delta.reasoning_content;
    if (typeof delta.content === "string") this.text += delta.content;
    for (const call of delta.tool_calls || []) {
      const index = call.index ?? this.calls.length;
      const known = this.calls[index] || { id: "", name: "", arguments: "" };
      if (call.id) known.id = call.id;
      if (call.function && call.function.name) known.name += call.function.name;
      if (call.function && call.function.arguments) known.arguments += call.function.arguments;
      this.calls[index] = known;
    }
    if (choice.finish_reason) this.finish = choice.finish_reason;
  }

  message() {
    const parts = [];
    if (this.thinking) parts.push({ kind: "thinking", text: this.thinking });
    if (this.text || !this.calls.length) parts.push({ kind: "text", text: this.text });
    for (const call of this.calls.filter(Boolean)) {
      parts.push({ kind: "tool_call", id: call.id, name: call.name, arguments: call.arguments });
    }
    return { role: "assistant", parts };
  }
}
