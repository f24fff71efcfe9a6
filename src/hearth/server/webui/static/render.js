// Showing messages. Model text is Markdown rendered by markdown-it with raw HTML turned off
// (any tag in the text is shown as text, never parsed), code highlighted by highlight.js; all
// else is put in the page with textContent. The page's Content-Security-Policy backs this up.

const md = window.markdownit({
  html: false, // never pass HTML from model output through
  linkify: true,
  highlight(code, language) {
    if (language && window.hljs.getLanguage(language)) {
      try {
        return window.hljs.highlight(code, { language, ignoreIllegals: true }).value;
      } catch {
        // fall through: markdown-it escapes the code itself
      }
    }
    return "";
  },
});

const renderToken = (tokens, idx, options, env, self) => self.renderToken(tokens, idx, options);
const linkOpen = md.renderer.rules.link_open || renderToken;
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet("target", "_blank");
  tokens[idx].attrSet("rel", "noopener noreferrer");
  return linkOpen(tokens, idx, options, env, self);
};

export function markdown(text) {
  return md.render(text);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function folded(className, summary, body) {
  const details = el("details", className);
  details.append(el("summary", "", summary), body);
  return details;
}

function prettyArguments(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function thinkingBlock(text) {
  return folded("thinking", "Thinking", el("div", "thinking-text", text));
}

function toolCallBlock(call) {
  return folded("tool-call", `Tool call: ${call.name}`, el("pre", "", prettyArguments(call.arguments)));
}

function toolResultBlock(part) {
  const summary = part.name ? `Tool result: ${part.name}` : "Tool result";
  return folded("tool-result", summary, el("pre", "", part.content));
}

function imageBlock(part) {
  const img = el("img", "attached");
  img.alt = "attached image";
  img.src = `data:${part.media_type};base64,${part.data}`;
  return img;
}

function userBody(parts, body) {
  for (const part of parts) {
    if (part.kind === "text") body.append(el("div", "user-text", part.text));
    else if (part.kind === "image") body.append(imageBlock(part));
    else if (part.kind === "tool_result") body.append(toolResultBlock(part));
  }
}

function assistantBody(parts, body) {
  for (const part of parts) {
    if (part.kind === "thinking") body.append(thinkingBlock(part.text));
    else if (part.kind === "tool_call") body.append(toolCallBlock(part));
    else if (part.kind === "text") {
      const content = el("div", "content markdown");
      content.innerHTML = markdown(part.text); // markdown-it with html: false: escaped
      body.append(content);
    }
  }
}

const ROLE_NAMES = { user: "You", assistant: "Assistant", tool: "Tool" };

// A message element for a stored message; `state` is shown as data-state (done, stopped, …).
export function messageElement(message, state = "done") {
  const node = el("article", `message ${message.role}`);
  node.dataset.state = state;
  node.append(el("div", "role", ROLE_NAMES[message.role] || message.role));
  const body = el("div", "body");
  if (message.role === "assistant") assistantBody(message.parts, body);
  else userBody(message.parts, body);
  node.append(body);
  if (state === "stopped") node.append(el("div", "note", "Stopped."));
  return node;
}

// Redraw a streaming answer (an `Answer` from messages.js) inside `node`.
export function updateAnswer(node, answer) {
  const body = node.querySelector(".body");
  const open = new Set(
    [...body.querySelectorAll("details[open]")].map((d) => d.className),
  );
  body.replaceChildren();
  assistantBody(answer.message().parts, body);
  for (const details of body.querySelectorAll("details")) {
    if (open.has(details.className)) details.open = true;
  }
}

export function note(node, text) {
  let line = node.querySelector(".note");
  if (!line) {
    line = el("div", "note");
    node.append(line);
  }
  line.textContent = text;
}

export function conversationItem(info, onOpen, onDelete) {
  const item = el("li", "conversation");
  item.dataset.id = info.id;
  const open = el("button", "open");
  open.type = "button";
  open.append(el("span", "title", info.title || "(untitled)"));
  open.append(el("span", "when", new Date(info.updated * 1000).toLocaleString()));
  open.addEventListener("click", () => onOpen(info.id));
  const remove = el("button", "delete", "×");
  remove.type = "button";
  remove.title = "Delete this conversation";
  remove.setAttribute("aria-label", `Delete ${info.title || "conversation"}`);
  remove.addEventListener("click", () => onDelete(info));
  item.append(open, remove);
  return item;
}
