// models.js - the model picker: each model the server has, with its size,
// quantization, context length, whether it is loaded, and the speed
// measured on this box (tokens/s, time to first token). A loaded model
// without a measurement gets a short calibration run, once.

import { models as modelsApi } from './api.js';
import { clear, h } from './dom.js';
import { formatBytes, formatCount, formatMs, formatRate } from './format.js';

export class ModelPicker {
  constructor({ state, onChange, toast }) {
    this.state = state;
    this.onChange = onChange; // (modelId)
    this.toast = toast;
    this.btn = document.getElementById('model-btn');
    this.nameEl = document.getElementById('model-btn-name');
    this.panel = document.getElementById('model-panel');
    this.listEl = document.getElementById('model-list');
    this.calibrating = new Set();
    this.calibrated = new Set();
    this.btn.addEventListener('click', () => (this.panel.hidden ? this.open() : this.close()));
    this.panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' || e.key === 'Enter') {
        e.preventDefault();
        e.stopPropagation();
        this.close(true);
      }
    });
    document.addEventListener('pointerdown', (e) => {
      if (!this.panel.hidden && !this.panel.contains(e.target) && !this.btn.contains(e.target)) this.close();
    });
  }

  async load() {
    try {
      const r = await modelsApi.list();
      this.state.models = r.data;
      this.history = r.history;
    } catch (e) {
      this.toast(`Cannot list the models: ${e.message}`);
    }
    this.render();
    this.calibrateMissing();
  }

  // Re-reads the list (states and speed estimates) without calibrating.
  async refresh() {
    try {
      const r = await modelsApi.list();
      const keep = new Map(this.state.models.map((m) => [m.id, m]));
      this.state.models = r.data.map((m) => ({ ...m, perf: m.perf || keep.get(m.id)?.perf || null }));
      this.history = r.history;
      this.render();
    } catch {
      // the next load will say what is wrong
    }
  }

  // Measures every loaded model that has no estimate yet (one at a time).
  async calibrateMissing() {
    if (!this.history) return;
    for (const m of this.state.models) {
      if (m.status !== 'loaded' || m.perf || this.calibrated.has(m.id) || this.calibrating.has(m.id)) continue;
      this.calibrating.add(m.id);
      this.render();
      try {
        const r = await modelsApi.calibrate(m.id);
        if (r.perf) m.perf = r.perf;
      } catch (e) {
        m.perfError = e.message;
      }
      this.calibrating.delete(m.id);
      this.calibrated.add(m.id);
      this.render();
    }
  }

  render() {
    const current = this.state.model();
    const info = this.state.modelInfo();
    this.nameEl.textContent = current || 'no model';
    this.btn.title = info ? `${current}: ${describe(info)} (Ctrl+Shift+L)` : 'Choose a model (Ctrl+Shift+L)';
    clear(this.listEl);
    if (!this.state.models.length) {
      this.listEl.appendChild(h('p', { class: 'muted' }, 'The server has no model. Start it with solebox serve -m MODEL.gguf.'));
      return;
    }
    for (const m of this.state.models) {
      const id = `model-opt-${m.id.replace(/[^a-zA-Z0-9_-]/g, '_')}`;
      const radio = h('input', { type: 'radio', name: 'model', value: m.id, id, checked: m.id === current,
        disabled: m.status === 'failed' });
      radio.addEventListener('change', () => {
        if (radio.checked) this.select(m.id);
      });
      const status = h('span', { class: `badge badge-${m.status}` }, m.status);
      let perf;
      if (m.perf) {
        perf = `≈ ${formatRate(m.perf.tokens_per_s)} · first token ${formatMs(m.perf.ttft_ms)} · ` +
          (m.perf.source === 'calibration' && m.perf.samples === 1 ? 'calibration run'
            : `${m.perf.samples} recent ${m.perf.samples === 1 ? 'run' : 'runs'}`);
      } else if (this.calibrating.has(m.id)) {
        perf = 'measuring speed on this box…';
      } else if (m.perfError) {
        perf = `speed unknown (${m.perfError})`;
      } else {
        perf = m.status === 'loaded' ? 'speed not measured yet' : '';
      }
      const label = h('label', { class: 'model-option', for: id },
        radio,
        h('span', { class: 'model-option-text' },
          h('span', { class: 'model-option-name' }, m.id, ' ', status, m.default ? h('span', { class: 'badge' }, 'default') : null),
          h('span', { class: 'model-option-meta' }, describe(m)),
          perf ? h('span', { class: 'model-option-perf' }, perf) : null,
          m.error ? h('span', { class: 'model-option-error' }, m.error) : null));
      label.addEventListener('click', (e) => {
        if (e.detail > 0 && !radio.disabled) setTimeout(() => this.close(true), 0); // a pointer choice closes the panel
      });
      this.listEl.appendChild(label);
    }
  }

  select(id) {
    this.onChange(id);
    this.render();
  }

  open() {
    this.panel.hidden = false;
    this.btn.setAttribute('aria-expanded', 'true');
    const checked = this.listEl.querySelector('input:checked') || this.listEl.querySelector('input:not([disabled])');
    checked?.focus();
    if (!this.state.models.length) this.load();
  }

  close(focusButton = false) {
    if (this.panel.hidden) return false;
    this.panel.hidden = true;
    this.btn.setAttribute('aria-expanded', 'false');
    if (focusButton) this.btn.focus();
    return true;
  }
}

// "292.8K params · F32 · 1.2 MB · context 2048"
export function describe(m) {
  const parts = [];
  if (m.n_params) parts.push(`${formatCount(m.n_params)} params`);
  if (m.quantization) parts.push(m.bits_per_weight ? `${m.quantization} (${m.bits_per_weight} bits/weight)` : m.quantization);
  if (m.file_size) parts.push(formatBytes(m.file_size));
  if (m.context_length) parts.push(`context ${m.context_length}`);
  else if (m.training_context) parts.push(`trained context ${m.training_context}`);
  return parts.join(' · ');
}
