// The chat page of `chatclone serve`: talks to the same server's /api/clone and
// /v1/chat/completions (streamed), and shows the clone's reply as separate text bubbles.
// Nothing is stored: the conversation and the API key live in this page's variables only.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const el = {
    name: $("clone-name"),
    info: $("clone-info"),
    notice: $("ai-notice"),
    keyForm: $("key-form"),
    keyMessage: $("key-message"),
    key: $("api-key"),
    messages: $("messages"),
    emptyHint: $("empty-hint"),
    error: $("error"),
    errorText: $("error-text"),
    retry: $("retry"),
    dismiss: $("dismiss-error"),
    composer: $("composer"),
    partner: $("partner"),
    input: $("message-input"),
    send: $("send"),
    stop: $("stop"),
    textFirst: $("text-first"),
    reset: $("reset"),
  };

  const keyMessage = [...el.keyMessage.childNodes].map((node) => node.cloneNode(true));

  const state = {
    clone: null, // GET /api/clone's answer
    apiKey: null, // never persisted
    history: [], // [{role: "user"|"assistant", content}] as sent to the server
    controller: null, // the AbortController of the reply streaming now
    pending: null, // what to do again once the API key is entered
    retryable: null, // what the Retry button does
    epoch: 0, // bumped by Reset, so a stream that ends after it touches nothing
  };

  // --- bubbles, as chatclone.chat.engine.BubbleStream splits them --------------------------

  class BubbleStream {
    constructor() {
      this.bubbles = [];
      this.open = false;
    }

    /** [[startsBubble, text], ...] for one streamed piece. */
    feed(piece) {
      const shown = [];
      piece.replace(/\r/g, "").split("\n").forEach((part, i) => {
        let line = part;
        if (i > 0) this.open = false;
        const starts = !this.open;
        if (starts) line = line.trimStart(); // a bubble never starts with the space after a newline
        if (!line) return;
        if (starts) {
          this.bubbles.push("");
          this.open = true;
        }
        this.bubbles[this.bubbles.length - 1] += line;
        shown.push([starts, line]);
      });
      return shown;
    }

    result() {
      return this.bubbles.map((b) => b.trim());
    }
  }

  // --- talking to the server -----------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, message, code, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  class StreamError extends Error {}

  function headers(extra = {}) {
    const h = { ...extra };
    if (state.apiKey) h.Authorization = `Bearer ${state.apiKey}`;
    return h;
  }

  async function httpError(response) {
    let message = `${response.status} ${response.statusText}`.trim();
    let code = null;
    try {
      const body = await response.json();
      if (body && body.error) {
        message = body.error.message || message;
        code = body.error.code || null;
      }
    } catch {
      // not JSON: the status line says enough
    }
    const retryAfter = parseInt(response.headers.get("Retry-After") || "", 10);
    return new HttpError(response.status, message, code, Number.isFinite(retryAfter) ? retryAfter : null);
  }

  async function getJSON(path) {
    const response = await fetch(path, { headers: headers(), cache: "no-store" });
    if (!response.ok) throw await httpError(response);
    return response.json();
  }

  /** Reads server-sent events from a fetch response, calling onData with each parsed `data:`. */
  async function readEvents(response, onData) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event
            .split("\n")
            .filter((line) => line.startsWith("data:"))
            .map((line) => line.slice(5).replace(/^ /, ""))
            .join("\n");
          if (!data) continue;
          if (data === "[DONE]") return;
          onData(JSON.parse(data));
        }
      }
    } catch (error) {
      reader.cancel().catch(() => {}); // a failed or stopped reply closes the connection: the server stops
      throw error;
    }
    throw new StreamError("the reply stopped before it was complete (the connection closed)");
  }

  // --- the page ------------------------------------------------------------------------------

  function showClone(clone) {
    state.clone = clone;
    document.title = `${clone.name} (AI clone) · chatclone`;
    el.name.textContent = clone.name;
    const parts = [];
    if (clone.run) parts.push(`run ${clone.run}`);
    parts.push(
      clone.backend === "openai"
        ? `${String(clone.base).replace(/^openai:/, "")} (OpenAI)`
        : `base ${clone.base} (local)`,
    );
    parts.push(clone.memory ? "memory on" : "memory off");
    el.info.textContent = parts.join(" · ");
    el.info.title = `model id: ${clone.model}`;
    el.notice.textContent = clone.notice;
    el.partner.placeholder = clone.partner || "a friend";
    el.emptyHint.textContent = `Say something to ${clone.name}'s clone, or press “Let them text first”.`;
    el.emptyHint.hidden = state.history.length > 0;
    setBusy(false);
  }

  function whoLabel(role) {
    if (role === "assistant") return `${state.clone ? state.clone.name : "Clone"} (AI clone)`;
    const partner = el.partner.value.trim();
    return partner ? `You (${partner})` : "You";
  }

  function addGroup(role) {
    const side = role === "assistant" ? "clone" : "me";
    const group = document.createElement("div");
    group.className = `group ${side}`;
    group.setAttribute("role", "group");
    const label = whoLabel(role);
    group.setAttribute("aria-label", label);
    const who = document.createElement("div");
    who.className = "who";
    who.textContent = label;
    group.append(who);
    el.messages.append(group);
    el.emptyHint.hidden = true;
    return group;
  }

  function addBubble(group, text) {
    const bubble = document.createElement("div");
    bubble.className = `bubble ${group.classList.contains("clone") ? "clone" : "me"}`;
    bubble.textContent = text;
    group.append(bubble);
    return bubble;
  }

  function addNote(group, text) {
    const note = document.createElement("div");
    note.className = "note";
    note.textContent = text;
    group.append(note);
  }

  function nearBottom() {
    const m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollDown(force) {
    if (force || nearBottom()) el.messages.scrollTop = el.messages.scrollHeight;
  }

  function setBusy(busy) {
    const ready = Boolean(state.clone) && !busy;
    el.input.disabled = !ready;
    el.send.disabled = !ready;
    el.textFirst.disabled = !ready;
    el.send.hidden = busy;
    el.stop.hidden = !busy;
    el.messages.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function showError(message, retry) {
    el.errorText.textContent = message;
    state.retryable = retry || null;
    el.retry.hidden = !retry;
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.errorText.textContent = "";
    state.retryable = null;
  }

  function describe(error) {
    if (error instanceof HttpError) {
      if (error.status === 503 && error.retryAfter !== null) {
        return `The clone is busy answering others: try again in about ${error.retryAfter} s.`;
      }
      return `Error ${error.status}: ${error.message}`;
    }
    if (error instanceof StreamError) return `The reply broke off: ${error.message}`;
    if (error instanceof TypeError) {
      return "Could not reach the server (network error): is chatclone serve still running?";
    }
    return `Something went wrong: ${error.message || error}`;
  }

  function askForKey(again) {
    if (again) el.keyMessage.textContent = "That API key was not accepted: check it and enter it again.";
    else el.keyMessage.replaceChildren(...keyMessage.map((node) => node.cloneNode(true)));
    if (!state.clone) el.info.textContent = "Waiting for the API key…";
    el.keyForm.hidden = false;
    el.key.value = "";
    el.key.focus();
  }

  /** Runs `action`; a 401 asks for the key and runs it again once it is entered. */
  async function guarded(action) {
    try {
      await action();
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        state.pending = action;
        askForKey(state.apiKey !== null);
        return;
      }
      showError(describe(error), () => guarded(action));
    }
  }

  async function loadClone() {
    el.info.textContent = "Loading the clone…";
    showClone(await getJSON("/api/clone"));
  }

  // --- one reply -----------------------------------------------------------------------------

  /** Streams the clone's reply to the history as it stands (it may end with the clone's own
   * message, or be empty: the clone texts first, or again). */
  async function requestReply() {
    clearError();
    const epoch = state.epoch;
    const controller = new AbortController();
    state.controller = controller;
    setBusy(true);
    const body = {
      model: state.clone.model,
      messages: state.history.map((m) => ({ role: m.role, content: m.content })),
      stream: true,
    };
    const partner = el.partner.value.trim();
    if (partner) body.partner = partner;

    const group = addGroup("assistant");
    group.setAttribute("aria-busy", "true");
    const typing = document.createElement("div");
    typing.className = "typing";
    typing.setAttribute("aria-hidden", "true"); // the group's aria-busy says it is coming
    typing.append(document.createElement("span"), document.createElement("span"), document.createElement("span"));
    group.append(typing);
    scrollDown(true);

    const stream = new BubbleStream();
    const shown = [];
    let finish = null;
    let failure = null;
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify(body),
        signal: controller.signal,
        cache: "no-store",
      });
      if (!response.ok) throw await httpError(response);
      await readEvents(response, (data) => {
        if (data.error) throw new StreamError(data.error.message || "generation failed");
        const choice = (data.choices || [])[0];
        if (!choice) return;
        const piece = choice.delta && choice.delta.content;
        if (piece) {
          const stick = nearBottom();
          for (const [starts, text] of stream.feed(piece)) {
            if (starts) shown.push(addBubble(group, ""));
            shown[shown.length - 1].textContent += text;
          }
          if (shown.length) typing.remove();
          scrollDown(stick);
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      });
    } catch (error) {
      failure = error;
    } finally {
      typing.remove();
      group.removeAttribute("aria-busy");
      if (state.controller === controller) state.controller = null;
    }
    if (epoch !== state.epoch) return; // Reset while it streamed: its bubbles are gone already

    const bubbles = stream.result();
    bubbles.forEach((text, i) => {
      shown[i].textContent = text;
    });
    if (bubbles.length) {
      // What the page shows is what the clone said: a stopped reply keeps its bubbles.
      state.history.push({ role: "assistant", content: bubbles.join("\n") });
    } else {
      group.remove();
      el.emptyHint.hidden = state.history.length > 0;
    }
    const stopped = failure && failure.name === "AbortError";
    if (stopped && bubbles.length) addNote(group, "stopped");
    else if (failure && bubbles.length) addNote(group, "interrupted");
    else if (finish === "length") addNote(group, "cut off at the length limit");
    setBusy(false);
    if (failure && !stopped) throw failure;
    el.input.focus();
  }

  function sendMessage() {
    const text = el.input.value;
    if (!text.trim() || state.controller || !state.clone) return;
    el.input.value = "";
    autosize();
    state.history.push({ role: "user", content: text });
    const group = addGroup("user");
    addBubble(group, text);
    scrollDown(true);
    guarded(requestReply);
  }

  function textFirst() {
    if (state.controller || !state.clone) return;
    guarded(requestReply);
  }

  function stop() {
    if (state.controller) state.controller.abort();
  }

  function reset() {
    state.epoch += 1;
    stop();
    state.controller = null;
    state.history = [];
    // A reply that waited for the API key belonged to the conversation just cleared.
    if (state.pending !== loadClone) state.pending = null;
    el.messages.replaceChildren();
    el.emptyHint.hidden = !state.clone;
    clearError();
    setBusy(false);
    el.input.focus();
  }

  function autosize() {
    el.input.style.height = "auto";
    el.input.style.height = `${Math.min(el.input.scrollHeight, 160)}px`;
  }

  // --- wiring --------------------------------------------------------------------------------

  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  el.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage();
    }
  });
  el.input.addEventListener("input", autosize);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.controller) stop();
  });
  el.stop.addEventListener("click", stop);
  el.textFirst.addEventListener("click", textFirst);
  el.reset.addEventListener("click", reset);
  el.retry.addEventListener("click", () => {
    const again = state.retryable;
    clearError();
    if (again) again();
  });
  el.dismiss.addEventListener("click", clearError);
  el.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = el.key.value.trim();
    if (!key) return;
    state.apiKey = key;
    el.key.value = "";
    el.keyForm.hidden = true;
    const pending = state.pending;
    state.pending = null;
    // Without the clone's details yet, fetch them first, then what was asked.
    const loadFirst = !state.clone && pending !== loadClone;
    guarded(async () => {
      if (loadFirst) await loadClone();
      if (pending) await pending();
    });
  });

  setBusy(false);
  guarded(loadClone);
})();
