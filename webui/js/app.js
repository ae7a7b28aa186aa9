// app.js - starts the page: state, routing (#/ is a new chat, #/c/ID a
// stored one), keyboard shortcuts, and the glue between the parts.

import { chats, defaults as defaultsApi } from './api.js';
import { ChatView } from './chat.js';
import { $, icon } from './dom.js';
import { ModelPicker } from './models.js';
import { SettingsPanel } from './settings.js';
import { Sidebar } from './sidebar.js';
import { showUsage } from './usage.js';

const NARROW = window.matchMedia('(max-width: 800px)');

const state = {
  chat: null, // {id (null until the first message), title, model, settings, usage}
  messages: [], // the loaded tail of the chat, in order
  hasOlder: false,
  models: [],
  defaults: {},
  streaming: null,
  // The model of the open chat, or the server's default.
  model() {
    const want = this.chat && this.chat.model;
    if (want && this.models.some((m) => m.id === want)) return want;
    const d = this.models.find((m) => m.default) || this.models[0];
    return d ? d.id : want || '';
  },
  modelInfo() {
    const id = this.model();
    return this.models.find((m) => m.id === id) || null;
  },
};

// ---- small UI services -----------------------------------------------------

let toastTimer = null;
function toast(text, kind = 'error') {
  const t = $('#toast');
  t.textContent = text;
  t.dataset.kind = kind;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.hidden = true;
  }, 6000);
}

// Asks with the confirm dialog; resolves true for "Delete".
function confirmDelete(text) {
  const d = $('#confirm-dialog');
  $('#confirm-text').textContent = text;
  return new Promise((resolve) => {
    const done = (v) => {
      $('#confirm-yes').removeEventListener('click', yes);
      $('#confirm-no').removeEventListener('click', no);
      d.removeEventListener('close', no);
      if (d.open) d.close();
      resolve(v);
    };
    const yes = () => done(true);
    const no = () => done(false);
    $('#confirm-yes').addEventListener('click', yes);
    $('#confirm-no').addEventListener('click', no);
    d.addEventListener('close', no);
    d.showModal();
    $('#confirm-no').focus();
  });
}

// Fills every <span class="icon-slot" data-icon="..."> with its SVG.
function drawIcons() {
  for (const s of document.querySelectorAll('.icon-slot[data-icon]')) {
    s.appendChild(icon(s.dataset.icon));
    s.removeAttribute('data-icon');
  }
}

// ---- the parts -------------------------------------------------------------

const sidebar = new Sidebar({
  toast,
  confirm: confirmDelete,
  onDeleted: (id) => {
    if (state.chat && state.chat.id === id) location.hash = '#/';
  },
});

const view = new ChatView({
  state,
  toast,
  onChatSaved: (c) => {
    sidebar.upsert(c);
    sidebar.setActive(c.id);
  },
  onTitle: (c) => setTitle(c.title),
  onReply: () => picker.refresh(),
  onOpened: (chat) => {
    setTitle(chat.title);
    view.renderUsage();
    picker.render();
    settings.load(chat.settings, state.modelInfo()?.context_length);
  },
});

const picker = new ModelPicker({
  state,
  toast,
  onChange: (id) => {
    state.chat.model = id;
    if (state.chat.id) chats.update(state.chat.id, { model: id }).catch((e) => toast(`Cannot change the model: ${e.message}`));
    const info = state.modelInfo();
    settings.setModelContext(info && info.context_length);
  },
});

const settings = new SettingsPanel({
  state,
  toast,
  onChange: (s) => {
    state.chat.settings = s;
    if (state.chat.id) {
      chats.update(state.chat.id, { settings: s })
        .then(() => {
          $('#settings-status').textContent = 'Saved for this chat.';
        })
        .catch((e) => {
          $('#settings-error').textContent = `Not saved: ${e.message}`;
        });
    }
  },
});

function setTitle(title) {
  $('#chat-title').textContent = title || 'New chat';
  document.title = title ? `${title} · Solebox` : 'Solebox';
}

// ---- routing -----------------------------------------------------------------

function newChat() {
  state.chat = { id: null, title: '', model: state.chat ? state.chat.model : '', settings: { ...state.defaults },
    usage: null };
  state.messages = [];
  state.hasOlder = false;
  view.showNew();
  setTitle('');
  sidebar.setActive(null);
  picker.render();
  settings.load(state.chat.settings, state.modelInfo()?.context_length);
}

async function route() {
  const m = /^#\/c\/(\d+)$/.exec(location.hash);
  closeSidebar();
  if (!m) {
    newChat();
    if (!NARROW.matches) $('#composer-input').focus();
    return;
  }
  const id = Number(m[1]);
  if (state.chat && state.chat.id === id) return;
  sidebar.setActive(id);
  const chat = await view.open(id);
  if (!chat) {
    if (Number(/^#\/c\/(\d+)$/.exec(location.hash)?.[1]) === id) location.hash = '#/';
    return;
  }
  if (!NARROW.matches) $('#composer-input').focus();
}

// ---- narrow screens: the history slides in -------------------------------------

function openSidebar() {
  document.body.classList.add('sidebar-open');
  $('#scrim').hidden = false;
  $('#open-sidebar').setAttribute('aria-expanded', 'true');
  $('#search-input').focus();
}

function closeSidebar() {
  if (!document.body.classList.contains('sidebar-open')) return false;
  document.body.classList.remove('sidebar-open');
  $('#scrim').hidden = true;
  $('#open-sidebar').setAttribute('aria-expanded', 'false');
  return true;
}

// ---- keyboard -------------------------------------------------------------------

function typingIn(el) {
  return el && (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable ||
    (el.tagName === 'INPUT' && !['radio', 'checkbox', 'button'].includes(el.type)));
}

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.key === 'Escape') {
    if (view.stop()) {
      e.preventDefault();
      return;
    }
    if (picker.close(true) || (settings.isOpen() && settings.close(true)) || closeSidebar()) e.preventDefault();
    return;
  }
  if (mod && e.shiftKey && key === 'o') {
    e.preventDefault();
    location.hash = '#/';
    if (location.hash === '#/') route();
  } else if (mod && !e.shiftKey && key === 'k') {
    e.preventDefault();
    if (NARROW.matches) openSidebar();
    $('#search-input').focus();
    $('#search-input').select();
  } else if (mod && e.shiftKey && key === 'l') {
    e.preventDefault();
    picker.open();
  } else if (mod && e.shiftKey && key === 's') {
    e.preventDefault();
    settings.toggle();
  } else if (mod && e.shiftKey && e.key === 'Enter') {
    e.preventDefault();
    view.regenerate();
  } else if (e.key === '?' && !mod && !typingIn(document.activeElement)) {
    e.preventDefault();
    $('#shortcuts-dialog').showModal();
  }
});

// ---- start ------------------------------------------------------------------------

drawIcons();
for (const d of document.querySelectorAll('dialog')) {
  d.querySelector('[data-close]')?.addEventListener('click', () => d.close());
}
$('#new-chat').addEventListener('click', () => {
  location.hash = '#/';
  route();
  $('#composer-input').focus();
});
// The skip link must not change the hash (that is the router's).
$('.skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  $('#composer-input').focus();
});
$('#open-sidebar').addEventListener('click', openSidebar);
$('#close-sidebar').addEventListener('click', closeSidebar);
$('#scrim').addEventListener('click', closeSidebar);
$('#usage-btn').addEventListener('click', () => showUsage($('#usage-dialog')));
$('#shortcuts-btn').addEventListener('click', () => $('#shortcuts-dialog').showModal());
$('#toast').addEventListener('click', () => {
  $('#toast').hidden = true;
});
document.addEventListener('solebox:renamed', (e) => {
  if (state.chat && state.chat.id === e.detail.id) {
    state.chat.title = e.detail.title;
    setTitle(e.detail.title);
  }
});
window.addEventListener('hashchange', route);

async function start() {
  try {
    state.defaults = await defaultsApi.get();
  } catch {
    state.defaults = {};
  }
  await picker.load();
  await Promise.all([sidebar.reload(), route()]);
  document.documentElement.dataset.ready = 'true';
}

start();
