// chat.js - the conversation: messages (loaded a page at a time, newest
// first, so a chat of thousands opens at once), the composer, and
// generation (streaming, stop, regenerate, edit and resend, retry).

import { ApiError, chats, streamChat } from './api.js';
import { announce, append, clear, copyText, h, icon } from './dom.js';
import { formatTokens, usageLine } from './format.js';
import { renderMarkdown } from './markdown.js';

const PAGE = 50; // messages fetched per page
const BOTTOM_SLACK = 48; // px from the bottom that still counts as "at the bottom"

// Rough tokens of a message, for fitting the history into the context
// (the server still checks exactly and says so when it does not fit).
const estimateTokens = (text) => Math.ceil(text.length / 3) + 4;

export class ChatView {
  constructor({ state, onChatSaved, onTitle, onReply, onOpened, toast }) {
    this.state = state;
    this.onOpened = onOpened; // (chat) when a stored chat is opened, before its messages show
    this.onReply = onReply; // () after a reply is stored (its timings feed the speed estimate)
    this.onChatSaved = onChatSaved; // (chatSummary) after any change that moves the chat in the list
    this.onTitle = onTitle;
    this.toast = toast;
    this.scroller = document.getElementById('messages');
    this.list = document.getElementById('message-list');
    this.older = document.getElementById('older');
    this.loadOlderBtn = document.getElementById('load-older');
    this.empty = document.getElementById('empty-state');
    this.input = document.getElementById('composer-input');
    this.form = document.getElementById('composer');
    this.sendBtn = document.getElementById('send-btn');
    this.stopBtn = document.getElementById('stop-btn');
    this.usageEl = document.getElementById('chat-usage');
    this.atBottom = true;
    this.loadingOlder = false;
    this.openToken = 0;
    this.renderPending = null;

    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send();
    });
    this.input.addEventListener('keydown', (e) => this.onComposerKey(e));
    this.input.addEventListener('input', () => this.autosize());
    this.stopBtn.addEventListener('click', () => this.stop());
    this.scroller.addEventListener('scroll', () => {
      this.atBottom = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < BOTTOM_SLACK;
    }, { passive: true });
    this.loadOlderBtn.addEventListener('click', () => this.loadOlder());
    this.list.addEventListener('click', (e) => this.onListClick(e));
    // Older messages load by themselves when their button scrolls into view.
    if ('IntersectionObserver' in window) {
      new IntersectionObserver((entries) => {
        if (entries.some((en) => en.isIntersecting) && !this.older.hidden) this.loadOlder();
      }, { root: this.scroller, rootMargin: '200px 0px 0px 0px' }).observe(this.older);
    }
  }

  // ---- opening -------------------------------------------------------------

  // Shows an empty new chat.
  showNew() {
    this.openToken++;
    this.stop();
    clear(this.list);
    this.older.hidden = true;
    this.updateEmpty();
    this.renderUsage();
  }

  // Opens a stored chat: its settings and the newest page of messages.
  async open(id) {
    const token = ++this.openToken;
    this.stop();
    const t0 = performance.now();
    performance.mark('solebox:open-start');
    let chat;
    let page;
    try {
      [chat, page] = await Promise.all([chats.get(id), chats.messages(id, undefined, PAGE)]);
    } catch (e) {
      if (token !== this.openToken) return null;
      this.toast(e.status === 404 ? 'That chat no longer exists.' : `Cannot open the chat: ${e.message}`);
      return null;
    }
    if (token !== this.openToken) return null;
    this.state.chat = chat;
    this.onOpened(chat);
    this.state.messages = page.messages;
    this.state.hasOlder = page.has_more;
    clear(this.list);
    const frag = document.createDocumentFragment();
    for (const m of page.messages) frag.appendChild(this.messageEl(m));
    this.list.appendChild(frag);
    this.older.hidden = !page.has_more;
    this.refreshActions();
    this.updateEmpty();
    this.scrollToBottom();
    // The time until the messages are laid out and painted. Off-screen
    // messages are laid out lazily (content-visibility), so the bottom is
    // found again once the visible ones have their real heights.
    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
    if (token === this.openToken) this.scrollToBottom();
    performance.measure('solebox:chat-open', 'solebox:open-start');
    this.lastOpenMs = performance.now() - t0;
    return chat;
  }

  // Fetches the page before the oldest loaded message and puts it on top,
  // keeping what is on screen where it was.
  async loadOlder() {
    const st = this.state;
    if (this.loadingOlder || !st.hasOlder || !st.chat || !st.messages.length) return;
    this.loadingOlder = true;
    const token = this.openToken;
    try {
      const page = await chats.messages(st.chat.id, st.messages[0].seq, PAGE * 2);
      if (token !== this.openToken) return;
      const before = this.scroller.scrollHeight;
      const frag = document.createDocumentFragment();
      for (const m of page.messages) frag.appendChild(this.messageEl(m));
      this.list.insertBefore(frag, this.list.firstChild);
      st.messages = page.messages.concat(st.messages);
      st.hasOlder = page.has_more;
      this.older.hidden = !page.has_more;
      this.scroller.scrollTop += this.scroller.scrollHeight - before;
    } catch (e) {
      this.toast(`Cannot load earlier messages: ${e.message}`);
    } finally {
      this.loadingOlder = false;
    }
  }

  // ---- rendering -------------------------------------------------------------

  messageEl(m) {
    const user = m.role === 'user';
    const body = h('div', { class: 'msg-body' });
    if (user || m.role === 'system') body.textContent = m.content;
    else body.appendChild(renderMarkdown(m.content));
    const foot = h('div', { class: 'msg-foot' });
    this.fillFoot(foot, m);
    const el = h('article', {
      class: `msg msg-${m.role}`,
      'aria-label': user ? 'You' : m.role === 'system' ? 'System' : 'Assistant',
      dataset: { seq: String(m.seq) },
    }, h('div', { class: 'msg-role' }, user ? 'You' : m.model || 'Assistant'), body, foot);
    return el;
  }

  // The line under a message: its usage and how it ended, and its actions.
  fillFoot(foot, m) {
    clear(foot);
    if (m.role === 'assistant') {
      const notes = [];
      if (m.finish === 'cancelled') notes.push('stopped');
      if (m.finish === 'length') notes.push('cut at the token limit');
      const line = usageLine(m.usage);
      if (line || notes.length) {
        append(foot, h('span', { class: 'msg-usage' }, [notes.join(', '), line].filter(Boolean).join(' · ')));
      }
      append(foot, h('span', { class: 'msg-actions' },
        h('button', { class: 'icon-btn small', type: 'button', 'data-action': 'copy-msg', 'aria-label': 'Copy reply',
          title: 'Copy reply' }, icon('copy')),
        h('button', { class: 'icon-btn small', type: 'button', 'data-action': 'regenerate',
          'aria-label': 'Regenerate reply', title: 'Regenerate (Ctrl+Shift+Enter)' }, icon('redo'))));
    } else if (m.role === 'user') {
      append(foot, h('span', { class: 'msg-actions' },
        h('button', { class: 'icon-btn small', type: 'button', 'data-action': 'edit', 'aria-label': 'Edit and resend',
          title: 'Edit and resend' }, icon('edit'))));
    }
  }

  // Only the last reply can be regenerated; only messages before a
  // running reply can be edited.
  refreshActions() {
    const arts = this.list.querySelectorAll('article.msg');
    let lastAssistant = null;
    for (const a of arts) if (a.classList.contains('msg-assistant') && !a.classList.contains('streaming')) lastAssistant = a;
    const last = arts[arts.length - 1];
    for (const b of this.list.querySelectorAll('[data-action="regenerate"]')) {
      b.hidden = !(lastAssistant && b.closest('article') === lastAssistant && last === lastAssistant) ||
        !!this.state.streaming;
    }
    for (const b of this.list.querySelectorAll('[data-action="edit"]')) b.disabled = !!this.state.streaming;
  }

  updateEmpty() {
    this.empty.hidden = this.list.childElementCount > 0;
  }

  renderUsage() {
    const c = this.state.chat;
    const u = c && c.usage;
    clear(this.usageEl);
    if (!u || !u.replies) return;
    this.usageEl.textContent = `This chat: ${u.replies} ${u.replies === 1 ? 'reply' : 'replies'} · ` +
      `${formatTokens(u.prompt_tokens)} prompt + ${formatTokens(u.completion_tokens)} completion tokens`;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.atBottom = true;
  }

  autosize() {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, window.innerHeight * 0.4)}px`;
  }

  // ---- input -------------------------------------------------------------

  onComposerKey(e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey && !e.isComposing) {
      e.preventDefault();
      this.send();
    } else if (e.key === 'ArrowUp' && this.input.value === '' && !this.state.streaming) {
      const mine = [...this.list.querySelectorAll('article.msg-user')];
      if (mine.length) {
        e.preventDefault();
        this.startEdit(mine[mine.length - 1]);
      }
    }
  }

  async onListClick(e) {
    const btn = e.target.closest('button[data-action]');
    if (!btn) return;
    const art = btn.closest('article');
    const action = btn.getAttribute('data-action');
    if (action === 'copy-code') {
      const code = btn.closest('.codeblock').querySelector('code');
      const ok = await copyText(code.textContent);
      this.flash(btn, ok ? 'Copied' : 'Copy failed');
    } else if (action === 'copy-msg') {
      const m = this.findMessage(art);
      const ok = m ? await copyText(m.content) : false;
      announce(ok ? 'Reply copied' : 'Copy failed');
      this.flash(btn, null);
    } else if (action === 'regenerate') {
      this.regenerate();
    } else if (action === 'edit') {
      this.startEdit(art);
    } else if (action === 'retry') {
      art.remove();
      this.generate();
    }
  }

  flash(btn, text) {
    const old = btn.textContent;
    btn.classList.add('flashed');
    if (text && btn.classList.contains('copy-code')) btn.textContent = text;
    setTimeout(() => {
      btn.classList.remove('flashed');
      if (text && btn.classList.contains('copy-code')) btn.textContent = old;
    }, 1200);
  }

  findMessage(art) {
    const seq = Number(art && art.dataset.seq);
    return this.state.messages.find((m) => m.seq === seq);
  }

  // ---- sending -------------------------------------------------------------

  // Sends the composer's text as a user message, then asks for a reply.
  async send() {
    const text = this.input.value;
    if (!text.trim() || this.state.streaming || this.sending) return;
    this.sending = true;
    try {
      const chat = await this.ensureChat();
      const msg = await chats.append(chat.id, { role: 'user', content: text });
      this.input.value = '';
      this.autosize();
      this.addMessage(msg);
      this.noteChatChange(msg);
    } catch (e) {
      this.toast(`Cannot send: ${e.message}`);
      return;
    } finally {
      this.sending = false;
    }
    await this.generate();
  }

  // The chat to write to: the open one, or a new one created now with the
  // chosen model and settings.
  async ensureChat() {
    const st = this.state;
    if (st.chat && st.chat.id) return st.chat;
    const chat = await chats.create({ model: st.model(), settings: st.chat ? st.chat.settings : st.defaults });
    st.chat = chat;
    history.replaceState(null, '', `#/c/${chat.id}`);
    this.onChatSaved(chat);
    return chat;
  }

  addMessage(m) {
    this.state.messages.push(m);
    this.list.appendChild(this.messageEl(m));
    this.refreshActions();
    this.updateEmpty();
    this.scrollToBottom();
  }

  // A message was stored: the chat moved to the top of the list, its
  // title may have come from this message, its totals changed.
  noteChatChange(msg) {
    const c = this.state.chat;
    c.updated_at = msg.created_at;
    c.n_messages = (msg.seq ?? 0) + 1;
    if (msg.role === 'user' && msg.seq === 0) {
      chats.get(c.id).then((fresh) => {
        c.title = fresh.title;
        this.onTitle(c);
        this.onChatSaved(c);
      }).catch(() => {});
    }
    this.onChatSaved(c);
  }

  // The messages the model sees: the system prompt, then as much of the
  // history (newest kept) as fits the context; fetches older pages when
  // the loaded ones may not fill it.
  async contextMessages(ctx, reserve) {
    const st = this.state;
    const sys = st.chat.settings.system_prompt || '';
    let budget = ctx - reserve - (sys ? estimateTokens(sys) : 0);
    let loaded = st.messages.reduce((n, m) => n + estimateTokens(m.content), 0);
    while (st.hasOlder && loaded < budget) {
      const before = st.messages.length;
      await this.loadOlder();
      if (st.messages.length === before) break;
      loaded = st.messages.reduce((n, m) => n + estimateTokens(m.content), 0);
    }
    const out = [];
    for (let i = st.messages.length - 1; i >= 0; i--) {
      const m = st.messages[i];
      const cost = estimateTokens(m.content);
      if (out.length && cost > budget) break; // always keep the newest message
      budget -= cost;
      out.unshift({ role: m.role, content: m.content });
    }
    if (sys) out.unshift({ role: 'system', content: sys });
    return { messages: out, estimate: ctx - reserve - budget };
  }

  // The request for /v1/chat/completions from the chat's settings.
  async buildRequest() {
    const st = this.state;
    const s = st.chat.settings || {};
    const model = st.modelInfo();
    const modelCtx = (model && model.context_length) || 2048;
    const ctx = Math.min(s.context_length > 0 ? s.context_length : modelCtx, modelCtx);
    const reserve = s.max_tokens > 0 ? Math.min(s.max_tokens, ctx - 16) : Math.min(256, Math.floor(ctx / 4));
    const { messages, estimate } = await this.contextMessages(ctx, reserve);
    const body = { model: st.model(), messages, stream: true, stream_options: { include_usage: true } };
    for (const k of ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty', 'seed']) {
      if (s[k] !== null && s[k] !== undefined && s[k] !== '') body[k] = s[k];
    }
    if (s.max_tokens > 0) body.max_tokens = s.max_tokens;
    else if (s.context_length > 0 && s.context_length < modelCtx) body.max_tokens = Math.max(16, ctx - estimate);
    return body;
  }

  // Streams a reply to the conversation as it stands and stores it.
  async generate() {
    const st = this.state;
    if (st.streaming || !st.chat) return;
    // The chat and view this reply belongs to: the person may open another
    // chat while it runs (which stops it); it is still stored here.
    const chat = st.chat;
    const model = st.model();
    const token = this.openToken;
    const here = () => token === this.openToken;
    const controller = new AbortController();
    st.streaming = { controller };
    this.setStreamingUI(true);
    const art = h('article', { class: 'msg msg-assistant streaming', 'aria-label': 'Assistant', 'aria-busy': 'true' },
      h('div', { class: 'msg-role' }, st.model() || 'Assistant'),
      h('div', { class: 'msg-body' }, h('span', { class: 'typing', 'aria-label': 'Writing' }, h('span'), h('span'),
        h('span'))),
      h('div', { class: 'msg-foot' }));
    this.list.appendChild(art);
    this.updateEmpty();
    this.refreshActions();
    this.scrollToBottom();
    const body = art.querySelector('.msg-body');
    let text = '';
    let ttft = null;
    let result = null;
    let error = null;
    let finish = null;
    const t0 = performance.now();
    try {
      const req = await this.buildRequest();
      if (!here()) throw new DOMException('the chat was closed', 'AbortError');
      result = await streamChat(req, {
        signal: controller.signal,
        onDelta: (d) => {
          if (ttft === null) ttft = performance.now() - t0;
          text += d;
          this.scheduleRender(body, () => text);
        },
      });
      finish = result.finish || 'stop';
    } catch (e) {
      if (e.name === 'AbortError') finish = 'cancelled';
      else error = e;
    }
    if (this.renderPending) {
      cancelAnimationFrame(this.renderPending.frame);
      clearTimeout(this.renderPending.timer);
    }
    this.renderPending = null;
    this.setStreamingUI(false); // state.streaming stays set until the reply is stored
    if (error) {
      st.streaming = null;
      if (here()) this.showError(art, text, error);
      return;
    }
    if (!text && finish === 'cancelled') {
      st.streaming = null;
      art.remove();
      if (here()) {
        this.refreshActions();
        this.updateEmpty();
        announce('Stopped');
      }
      return;
    }
    const usage = {};
    if (result && result.usage) {
      usage.prompt_tokens = result.usage.prompt_tokens;
      usage.completion_tokens = result.usage.completion_tokens;
      const cached = result.usage.prompt_tokens_details && result.usage.prompt_tokens_details.cached_tokens;
      if (cached) usage.cached_tokens = cached;
    }
    if (result && result.timings) {
      usage.prompt_ms = result.timings.prompt_ms;
      usage.predicted_ms = result.timings.predicted_ms;
      if (Number.isFinite(result.timings.predicted_per_second)) usage.tokens_per_s = result.timings.predicted_per_second;
    }
    if (ttft !== null) usage.ttft_ms = ttft;
    const msg = { role: 'assistant', content: text, model, finish, usage };
    // The reply stays in place (still marked as in progress) until it is
    // stored, then its stored form takes its place.
    clear(body);
    body.appendChild(renderMarkdown(text));
    try {
      const saved = await chats.append(chat.id, msg);
      if (!here()) {
        st.streaming = null;
        return;
      }
      st.messages.push(saved);
      art.replaceWith(this.messageEl(saved));
      if (this.atBottom) this.scrollToBottom();
      this.noteChatChange(saved);
      if (usage.completion_tokens !== undefined) {
        const u = chat.usage || (chat.usage = { prompt_tokens: 0, completion_tokens: 0, replies: 0 });
        u.prompt_tokens += usage.prompt_tokens || 0;
        u.completion_tokens += usage.completion_tokens || 0;
        u.replies += 1;
        this.renderUsage();
      }
      this.onReply();
    } catch (e) {
      // Shown, though not stored: say so.
      art.replaceWith(this.messageEl({ ...msg, seq: -1 }));
      this.toast(`The reply could not be saved: ${e.message}`);
    }
    st.streaming = null;
    this.refreshActions();
    announce(finish === 'cancelled' ? 'Reply stopped' : 'Reply complete');
  }

  // Re-renders the streaming reply at most once per frame (or every
  // 100 ms where frames are not being drawn).
  scheduleRender(body, getText) {
    if (this.renderPending) return;
    const run = () => {
      if (!this.renderPending) return;
      cancelAnimationFrame(this.renderPending.frame);
      clearTimeout(this.renderPending.timer);
      this.renderPending = null;
      clear(body);
      body.appendChild(renderMarkdown(getText()));
      if (this.atBottom) this.scrollToBottom();
    };
    this.renderPending = { frame: requestAnimationFrame(run), timer: setTimeout(run, 100) };
  }

  showError(art, text, error) {
    art.classList.remove('streaming');
    art.classList.add('msg-error');
    art.removeAttribute('aria-busy');
    const body = art.querySelector('.msg-body');
    clear(body);
    if (text) body.appendChild(renderMarkdown(text));
    const foot = art.querySelector('.msg-foot');
    clear(foot);
    append(foot, h('div', { class: 'error-box', role: 'alert' },
      h('span', {}, error instanceof ApiError ? error.message : String(error.message || error)),
      h('button', { class: 'btn small', type: 'button', 'data-action': 'retry' }, icon('retry'), 'Retry')));
    this.refreshActions();
  }

  setStreamingUI(on) {
    this.sendBtn.hidden = on;
    this.stopBtn.hidden = !on;
    if (on && document.activeElement === this.sendBtn) this.input.focus();
    this.refreshActions();
  }

  // Stops the running reply (button and Esc); what came so far is kept.
  stop() {
    const s = this.state.streaming;
    if (s) s.controller.abort();
    return !!s;
  }

  // Replaces the last reply with a new one.
  async regenerate() {
    const st = this.state;
    if (st.streaming || !st.chat) return;
    const last = st.messages[st.messages.length - 1];
    if (!last || last.role !== 'assistant') return;
    try {
      await chats.truncate(st.chat.id, last.seq);
    } catch (e) {
      this.toast(`Cannot regenerate: ${e.message}`);
      return;
    }
    this.dropFrom(last.seq);
    await this.generate();
  }

  // Removes the loaded messages with seq >= seq (state and view).
  dropFrom(seq) {
    this.state.messages = this.state.messages.filter((m) => m.seq < seq);
    for (const a of [...this.list.querySelectorAll('article.msg')]) {
      if (!a.dataset.seq || Number(a.dataset.seq) >= seq) a.remove();
    }
    this.refreshActions();
    this.updateEmpty();
  }

  // Turns a user message into an editor; saving resends from there.
  startEdit(art) {
    const m = this.findMessage(art);
    if (!m || this.state.streaming || art.querySelector('.edit-box')) return;
    const body = art.querySelector('.msg-body');
    const ta = h('textarea', { class: 'edit-input', 'aria-label': 'Edit your message', rows: '3' });
    ta.value = m.content;
    const save = h('button', { class: 'btn btn-primary small', type: 'button' }, 'Save and send');
    const cancel = h('button', { class: 'btn small', type: 'button' }, 'Cancel');
    const box = h('div', { class: 'edit-box' }, ta, h('div', { class: 'edit-actions' }, save, cancel));
    body.hidden = true;
    art.insertBefore(box, body.nextSibling);
    const close = () => {
      box.remove();
      body.hidden = false;
      art.querySelector('[data-action="edit"]')?.focus();
    };
    const commit = async () => {
      const text = ta.value;
      if (!text.trim()) return;
      try {
        const saved = await chats.append(this.state.chat.id, { role: 'user', content: text, truncate_from: m.seq });
        this.dropFrom(m.seq);
        this.addMessage(saved);
        this.noteChatChange(saved);
      } catch (e) {
        this.toast(`Cannot save the edit: ${e.message}`);
        return;
      }
      await this.generate();
    };
    save.addEventListener('click', commit);
    cancel.addEventListener('click', close);
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        commit();
      } else if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        close();
      }
    });
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
  }
}
