// dom.js - building DOM without HTML strings.
//
// h('button', {class: 'btn', type: 'button', onclick: fn}, 'Send') makes an
// element: attributes through setAttribute, on* keys as event listeners
// (functions only), children as nodes or text. icon(name) draws one of the
// page's inline SVG icons with createElementNS.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) {
      if (typeof v === 'function') e.addEventListener(k.slice(2), v);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(v)) e.dataset[dk] = dv;
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(e, ...children);
  return e;
}

// Appends nodes, strings (as text) and arrays of them.
export function append(parent, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  return parent;
}

// Removes every child of e.
export function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// 24x24 stroke icons (drawn here; no icon font, nothing fetched).
const ICONS = {
  plus: ['M12 5v14', 'M5 12h14'],
  menu: ['M4 6h16', 'M4 12h16', 'M4 18h16'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  send: ['M5 12h13', 'M13 6l6 6-6 6'],
  stop: ['M7 7h10v10H7z'],
  edit: ['M4 20h4L19 9l-4-4L4 16v4z', 'M13 7l4 4'],
  trash: ['M5 7h14', 'M9 7V4h6v3', 'M7 7l1 13h8l1-13'],
  copy: ['M9 9h10v11H9z', 'M5 15V4h10'],
  redo: ['M20 11a8 8 0 1 1-2.3-5.7', 'M20 4v5h-5'],
  settings: ['M4 7h10', 'M18 7h2', 'M4 17h4', 'M12 17h8', 'M14 5v4', 'M8 15v4'],
  search: ['M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14z', 'M16 16l4 4'],
  download: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
  upload: ['M12 20V9', 'M7 14l5-5 5 5', 'M5 4h14'],
  chart: ['M5 20V10', 'M12 20V4', 'M19 20v-7'],
  keyboard: ['M3 7h18v10H3z', 'M7 11h.01', 'M11 11h.01', 'M15 11h.01', 'M8 14h8'],
  chevron: ['M7 10l5 5 5-5'],
  retry: ['M4 4v6h6', 'M4 10a8 8 0 1 1 2 6'],
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', 'icon');
  for (const d of ICONS[name] || []) {
    const p = document.createElementNS(SVG_NS, 'path');
    p.setAttribute('d', d);
    svg.appendChild(p);
  }
  return svg;
}

// Copies text to the clipboard; falls back to a hidden textarea where the
// async API is unavailable (a page served over plain http on the LAN is
// not a secure context).
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall through
    }
  }
  const ta = h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true', readonly: true });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

// Says text to screen readers through the page's status region.
export function announce(text) {
  const r = document.getElementById('announcer');
  if (!r) return;
  r.textContent = '';
  setTimeout(() => {
    r.textContent = text;
  }, 30);
}
