// fakedom.mjs - the smallest document the Markdown renderer needs, for its
// node tests. It offers only createElement/createTextNode/
// createDocumentFragment, appendChild and setAttribute, and serialises
// with escaping. innerHTML and friends throw: the renderer must not need
// them.
const VOID = new Set(['br', 'hr', 'input', 'img']);

class FakeNode {
  constructor() {
    this.childNodes = [];
    this.parentNode = null;
  }
  appendChild(c) {
    if (c instanceof FakeFragment) {
      for (const k of c.childNodes) {
        k.parentNode = this;
        this.childNodes.push(k);
      }
      c.childNodes = [];
      return c;
    }
    c.parentNode = this;
    this.childNodes.push(c);
    return c;
  }
  get textContent() {
    return this.childNodes.map((c) => c.textContent).join('');
  }
  set innerHTML(_v) {
    throw new Error('innerHTML used');
  }
  insertAdjacentHTML() {
    throw new Error('insertAdjacentHTML used');
  }
}

export class FakeText extends FakeNode {
  constructor(v) {
    super();
    this.data = String(v);
  }
  get textContent() {
    return this.data;
  }
}

export class FakeElement extends FakeNode {
  constructor(tag) {
    super();
    this.tagName = tag.toLowerCase();
    this.attributes = new Map();
  }
  setAttribute(k, v) {
    if (!/^[a-z][a-z0-9-]*$/.test(k)) throw new Error(`bad attribute name ${k}`);
    this.attributes.set(k, String(v));
  }
  getAttribute(k) {
    return this.attributes.has(k) ? this.attributes.get(k) : null;
  }
  set outerHTML(_v) {
    throw new Error('outerHTML used');
  }
}

export class FakeFragment extends FakeNode {}

export const fakeDocument = {
  createElement: (t) => new FakeElement(t),
  createTextNode: (v) => new FakeText(v),
  createDocumentFragment: () => new FakeFragment(),
};

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function serialize(node) {
  if (node instanceof FakeText) return esc(node.data);
  const inner = node.childNodes.map(serialize).join('');
  if (node instanceof FakeFragment) return inner;
  const attrs = [...node.attributes].map(([k, v]) => (v === '' ? ` ${k}` : ` ${k}="${esc(v)}"`)).join('');
  if (VOID.has(node.tagName)) return `<${node.tagName}${attrs}>`;
  return `<${node.tagName}${attrs}>${inner}</${node.tagName}>`;
}

// Every element in the tree (depth first).
export function elements(node, out = []) {
  for (const c of node.childNodes) {
    if (c instanceof FakeElement) out.push(c);
    elements(c, out);
  }
  return out;
}
