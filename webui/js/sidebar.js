// sidebar.js - the chat history: newest first, a page at a time (more
// load as the list scrolls), search, rename, delete, export and import.

import { chats } from './api.js';
import { announce, clear, h, icon } from './dom.js';
import { formatWhen } from './format.js';

const PAGE = 50;

export class Sidebar {
  constructor({ toast, confirm, onDeleted }) {
    this.toast = toast;
    this.confirm = confirm;
    this.onDeleted = onDeleted; // (id)
    this.listEl = document.getElementById('chat-list');
    this.moreBtn = document.getElementById('load-more');
    this.status = document.getElementById('list-status');
    this.search = document.getElementById('search-input');
    this.importFile = document.getElementById('import-file');
    this.items = new Map(); // id -> chat summary, in list order
    this.cursor = null;
    this.loading = false;
    this.activeId = null;
    this.query = '';
    this.searchTimer = null;
    this.searchSeq = 0;

    this.moreBtn.addEventListener('click', () => this.loadMore());
    this.search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.runSearch(), 200);
    });
    this.search.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.search.value) {
        e.stopPropagation();
        this.search.value = '';
        this.runSearch();
      }
    });
    this.listEl.addEventListener('click', (e) => this.onClick(e));
    this.importFile.addEventListener('change', () => this.importChats());
    if ('IntersectionObserver' in window) {
      new IntersectionObserver((entries) => {
        if (entries.some((en) => en.isIntersecting) && !this.moreBtn.hidden) this.loadMore();
      }, { root: this.listEl.parentElement, rootMargin: '0px 0px 200px 0px' }).observe(this.moreBtn);
    }
  }

  // Loads the first page again.
  async reload() {
    this.items.clear();
    this.cursor = null;
    clear(this.listEl);
    await this.loadMore(true);
  }

  async loadMore(first = false) {
    if (this.loading || (!first && !this.cursor) || this.query) return;
    this.loading = true;
    try {
      const page = await chats.list(first ? null : this.cursor, PAGE);
      for (const c of page.chats) {
        if (this.items.has(c.id)) continue;
        this.items.set(c.id, c);
        this.listEl.appendChild(this.itemEl(c));
      }
      this.cursor = page.next;
      this.moreBtn.hidden = !page.next;
      this.status.textContent = this.items.size ? '' : 'No chats yet.';
    } catch (e) {
      this.status.textContent = `Cannot load the history: ${e.message}`;
    } finally {
      this.loading = false;
    }
  }

  itemEl(c) {
    const title = c.title || 'New chat';
    const link = h('a', { class: 'chat-link', href: `#/c/${c.id}`, 'aria-current': c.id === this.activeId ? 'page' : null },
      h('span', { class: 'chat-link-title' }, title),
      h('span', { class: 'chat-link-when' }, formatWhen(c.updated_at)));
    return h('li', { class: 'chat-item', dataset: { id: String(c.id) } }, link,
      h('span', { class: 'chat-item-actions' },
        h('button', { class: 'icon-btn small', type: 'button', 'data-action': 'rename', 'aria-label': `Rename “${title}”`,
          title: 'Rename' }, icon('edit')),
        h('button', { class: 'icon-btn small', type: 'button', 'data-action': 'delete', 'aria-label': `Delete “${title}”`,
          title: 'Delete' }, icon('trash'))));
  }

  // A chat was created or changed: it goes to the top with its new title.
  upsert(c) {
    if (this.query) return;
    const summary = { id: c.id, title: c.title, updated_at: c.updated_at, n_messages: c.n_messages, model: c.model };
    const old = this.listEl.querySelector(`li[data-id="${c.id}"]`);
    if (old) old.remove();
    this.items.delete(c.id);
    this.items = new Map([[c.id, summary], ...this.items]);
    this.listEl.insertBefore(this.itemEl(summary), this.listEl.firstChild);
    this.status.textContent = '';
  }

  setActive(id) {
    this.activeId = id;
    for (const a of this.listEl.querySelectorAll('a.chat-link')) {
      const li = a.closest('li');
      if (li && Number(li.dataset.id) === id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  onClick(e) {
    const btn = e.target.closest('button[data-action]');
    if (!btn) return;
    const li = btn.closest('li');
    const id = Number(li.dataset.id);
    if (btn.dataset.action === 'rename') this.startRename(li, id);
    else if (btn.dataset.action === 'delete') this.remove(li, id);
  }

  startRename(li, id) {
    const link = li.querySelector('a.chat-link');
    if (!link || li.querySelector('input')) return;
    const current = this.items.get(id)?.title || '';
    const input = h('input', { class: 'rename-input', type: 'text', 'aria-label': 'New title', maxlength: '200' });
    input.value = current;
    link.hidden = true;
    li.insertBefore(input, link);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      input.remove();
      link.hidden = false;
      if (!save || title === current) {
        link.focus();
        return;
      }
      try {
        const c = await chats.update(id, { title });
        this.retitle(c);
        announce(`Renamed to ${c.title || 'an automatic title'}`);
        document.dispatchEvent(new CustomEvent('solebox:renamed', { detail: c }));
      } catch (err) {
        this.toast(`Cannot rename: ${err.message}`);
      }
      li.querySelector('a.chat-link')?.focus();
    };
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        finish(true);
      } else if (e.key === 'Escape') {
        e.preventDefault();
        e.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener('blur', () => finish(true));
  }

  // Shows a chat's new title where it is listed.
  retitle(c) {
    const s = this.items.get(c.id);
    if (s) s.title = c.title;
    const li = this.listEl.querySelector(`li[data-id="${c.id}"]`);
    if (li) li.replaceWith(this.itemEl({ ...(s || c), title: c.title }));
  }

  async remove(li, id) {
    const title = this.items.get(id)?.title || 'this chat';
    if (!(await this.confirm(`“${title}” and all its messages will be deleted from this box.`))) return;
    try {
      await chats.remove(id);
    } catch (e) {
      this.toast(`Cannot delete: ${e.message}`);
      return;
    }
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    this.items.delete(id);
    announce('Chat deleted');
    (next?.querySelector('a') || document.getElementById('new-chat')).focus();
    this.onDeleted(id);
    if (!this.items.size && !this.query) this.status.textContent = 'No chats yet.';
  }

  // ---- search ------------------------------------------------------------

  async runSearch() {
    const q = this.search.value.trim();
    const seq = ++this.searchSeq;
    if (!q) {
      if (this.query) {
        this.query = '';
        await this.reload();
      }
      return;
    }
    let res;
    try {
      res = await chats.search(q, 50);
    } catch (e) {
      if (seq === this.searchSeq) this.status.textContent = `Search failed: ${e.message}`;
      return;
    }
    if (seq !== this.searchSeq) return;
    this.query = q;
    clear(this.listEl);
    this.moreBtn.hidden = true;
    for (const r of res.results) {
      const link = h('a', { class: 'chat-link', href: `#/c/${r.id}`,
        'aria-current': r.id === this.activeId ? 'page' : null },
      h('span', { class: 'chat-link-title' }, highlight(r.title || 'New chat', q)),
      r.snippet ? h('span', { class: 'chat-link-snippet' }, highlight(r.snippet, q)) : null);
      this.listEl.appendChild(h('li', { class: 'chat-item search-hit', dataset: { id: String(r.id) } }, link));
    }
    const n = res.results.length;
    this.status.textContent = n ? `${n} ${n === 1 ? 'chat matches' : 'chats match'}` : 'No chat matches.';
  }

  // ---- import ------------------------------------------------------------

  async importChats() {
    const file = this.importFile.files && this.importFile.files[0];
    this.importFile.value = '';
    if (!file) return;
    try {
      const text = await file.text();
      const r = await chats.importDoc(text);
      this.toast(`Imported ${r.imported} ${r.imported === 1 ? 'chat' : 'chats'}.`, 'info');
      this.search.value = '';
      this.query = '';
      await this.reload();
    } catch (e) {
      this.toast(`Cannot import ${file.name}: ${e.message}`);
    }
  }
}

// text as nodes with the matches of q (case-insensitive) in <mark>.
function highlight(text, q) {
  const out = [];
  const lower = text.toLowerCase();
  const ql = q.toLowerCase();
  let i = 0;
  for (;;) {
    const k = ql ? lower.indexOf(ql, i) : -1;
    if (k < 0) break;
    if (k > i) out.push(text.slice(i, k));
    out.push(h('mark', {}, text.slice(k, k + q.length)));
    i = k + q.length;
  }
  out.push(text.slice(i));
  return out;
}
