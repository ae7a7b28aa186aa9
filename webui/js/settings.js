// settings.js - the per-chat settings panel: system prompt and sampling,
// validated here with the server's bounds, saved as the person types.

import { defaults as defaultsApi } from './api.js';

const NUMBERS = {
  temperature: { min: 0, max: 2 },
  top_p: { min: 0, max: 1 },
  top_k: { min: 0, max: 2147483647, int: true },
  min_p: { min: 0, max: 1 },
  max_tokens: { min: 0, max: 2147483647, int: true },
  repetition_penalty: { min: 0, max: 10, above: true },
  seed: { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, int: true },
  context_length: { min: 0, max: 4194304, int: true },
};

export class SettingsPanel {
  constructor({ state, onChange, toast }) {
    this.state = state;
    this.onChange = onChange; // (settings)
    this.toast = toast;
    this.panel = document.getElementById('settings-panel');
    this.form = document.getElementById('settings-form');
    this.btn = document.getElementById('settings-btn');
    this.error = document.getElementById('settings-error');
    this.status = document.getElementById('settings-status');
    this.ctxInput = document.getElementById('s-context_length');
    this.ctxHint = document.getElementById('ctx-hint');
    this.timer = null;
    this.btn.addEventListener('click', () => this.toggle());
    document.getElementById('settings-close').addEventListener('click', () => this.close(true));
    this.form.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.commit(), 350);
    });
    this.form.addEventListener('submit', (e) => e.preventDefault());
    document.getElementById('settings-save-default').addEventListener('click', () => this.saveDefault());
    document.getElementById('settings-reset').addEventListener('click', () => this.reset());
  }

  // Fills the form from settings; ctx is the model's context length.
  load(settings, ctx) {
    clearTimeout(this.timer);
    const s = settings || {};
    this.form.elements.system_prompt.value = s.system_prompt || '';
    for (const k of Object.keys(NUMBERS)) {
      this.form.elements[k].value = s[k] === null || s[k] === undefined ? '' : String(s[k]);
    }
    this.setModelContext(ctx);
    this.error.textContent = '';
    this.status.textContent = '';
  }

  setModelContext(ctx) {
    if (ctx) {
      this.ctxInput.max = String(ctx);
      this.ctxHint.textContent = `0 = the model's (${ctx})`;
    } else {
      this.ctxInput.removeAttribute('max');
      this.ctxHint.textContent = "0 = the model's";
    }
  }

  // The form's settings, or null (with the problem shown) when invalid.
  read() {
    const s = { system_prompt: this.form.elements.system_prompt.value };
    const modelCtx = Number(this.ctxInput.max) || Infinity;
    for (const [k, r] of Object.entries(NUMBERS)) {
      const input = this.form.elements[k];
      const raw = input.value.trim();
      if (raw === '') {
        s[k] = null;
        input.removeAttribute('aria-invalid');
        continue;
      }
      const v = Number(raw);
      const label = this.form.querySelector(`label[for="${input.id}"]`).textContent;
      let problem = null;
      if (!Number.isFinite(v)) problem = `${label} must be a number`;
      else if (r.int && !Number.isInteger(v)) problem = `${label} must be a whole number`;
      else if (v < r.min || v > r.max || (r.above && v <= r.min)) {
        problem = `${label} must be ${r.above ? 'above' : 'from'} ${r.min}${r.above ? ' and at most' : ' to'} ${r.max}`;
      } else if (k === 'context_length' && v > modelCtx) problem = `Context length is at most ${modelCtx} for this model`;
      if (problem) {
        input.setAttribute('aria-invalid', 'true');
        this.error.textContent = problem;
        return null;
      }
      input.removeAttribute('aria-invalid');
      s[k] = v;
    }
    this.error.textContent = '';
    return s;
  }

  commit() {
    const s = this.read();
    if (s) this.onChange(s);
  }

  async saveDefault() {
    const s = this.read();
    if (!s) return;
    try {
      this.state.defaults = await defaultsApi.set(s);
      this.status.textContent = 'Saved: new chats start with these settings.';
    } catch (e) {
      this.error.textContent = `Cannot save the defaults: ${e.message}`;
    }
  }

  reset() {
    this.load(this.state.defaults, Number(this.ctxInput.max) || 0);
    this.commit();
    this.status.textContent = 'Reset to the defaults.';
  }

  isOpen() {
    return !this.panel.hidden;
  }

  toggle() {
    if (this.isOpen()) this.close(true);
    else this.open();
  }

  open() {
    this.panel.hidden = false;
    this.btn.setAttribute('aria-expanded', 'true');
    document.body.classList.add('settings-open');
    this.form.elements.system_prompt.focus();
  }

  close(focusButton = false) {
    if (!this.isOpen()) return false;
    clearTimeout(this.timer);
    this.commit();
    this.panel.hidden = true;
    this.btn.setAttribute('aria-expanded', 'false');
    document.body.classList.remove('settings-open');
    if (focusButton) this.btn.focus();
    return true;
  }
}
