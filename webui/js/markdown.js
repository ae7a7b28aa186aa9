// markdown.js - a small Markdown renderer for model replies, safe by
// construction.
//
// The text is parsed into a tree of plain objects (parseMarkdown), then
// turned into DOM nodes with createElement/createTextNode only
// (renderMarkdown). Text always lands in text nodes, so `<script>` or
// `<img onerror=...>` in a reply is shown as those characters and never
// parsed as HTML; no attribute is ever taken from the text except a link's
// href, and that only after it parses as an absolute http(s) or mailto URL.
// Images are shown as links (loading one would reach beyond the box).
//
// Supported: ATX and setext headings, paragraphs (a newline is a line
// break, as people expect in a chat), fenced code (``` and ~~~, an
// unclosed fence runs to the end so a streaming reply renders as it
// grows), block quotes, nested bullet/ordered/task lists, GFM tables with
// alignment, thematic breaks; inline code, *em*, **strong**, ~~strike~~,
// [links](url), <autolinks>, bare http(s) URLs and backslash escapes.
// Raw HTML is text. Indented code blocks are not supported (models fence
// their code; four spaces of indentation stay a paragraph).
//
// Works in the browser and in node (the unit tests pass a tiny document).

const MAX_DEPTH = 12; // nesting of quotes/lists; deeper is flattened to text

// ---- URLs ----------------------------------------------------------------

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

// The normalised href of an absolute http(s)/mailto URL, or null.
export function safeUrl(raw) {
  if (typeof raw !== 'string') return null;
  const s = raw.trim();
  // Control characters and whitespace inside a URL are never legitimate
  // here (and are how "java\tscript:" tricks work).
  if (!s || /[\u0000-\u0020\u007f-\u009f]/.test(s)) return null;
  let u;
  try {
    u = new URL(s);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(u.protocol)) return null;
  if (u.protocol !== 'mailto:' && !u.hostname) return null;
  return u.href;
}

// ---- blocks --------------------------------------------------------------

const RE_FENCE = /^( {0,3})(`{3,}|~{3,})[ \t]*(.*)$/;
const RE_ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RE_HR = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const RE_QUOTE = /^ {0,3}>/;
const RE_LIST = /^( *)([-*+]|\d{1,9}[.)])([ \t]+|$)/;
const RE_SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const RE_TABLE_DELIM = /^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$/;

const isBlank = (l) => /^[ \t]*$/.test(l);
const indentOf = (l) => l.length - l.replace(/^ +/, '').length;

// Leading tabs become spaces (to the next multiple of 4).
function expandTabs(line) {
  if (!line.includes('\t')) return line;
  let out = '';
  let i = 0;
  for (; i < line.length && (line[i] === ' ' || line[i] === '\t'); i++) {
    out += line[i] === '\t' ? ' '.repeat(4 - (out.length % 4)) : ' ';
  }
  return out + line.slice(i);
}

function listMarker(line) {
  const m = RE_LIST.exec(line);
  if (!m) return null;
  const indent = m[1].length;
  const marker = m[2];
  const ordered = /\d/.test(marker[0]);
  const spaces = m[3].length;
  const rest = line.slice(m[0].length);
  // Content starts after the marker and its spaces (1 when more than 4
  // spaces, or when the line is empty after the marker).
  const pad = rest === '' || spaces > 4 ? 1 : spaces;
  return {
    indent,
    ordered,
    ch: ordered ? marker[marker.length - 1] : marker,
    start: ordered ? parseInt(marker, 10) : 1,
    content: indent + marker.length + pad,
    rest: spaces > 4 ? ' '.repeat(spaces - 1) + rest : rest,
  };
}

// Does this line start a block other than a paragraph? (Such lines end a
// paragraph without a blank line between.)
function startsBlock(line) {
  return RE_FENCE.test(line) || RE_ATX.test(line) || RE_HR.test(line) || RE_QUOTE.test(line) ||
    (listMarker(line) !== null && indentOf(line) <= 3 && !isBlank(line.replace(RE_LIST, '')));
}

// Splits a table row into cell texts at unescaped pipes outside code spans.
export function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells = [];
  let cur = '';
  let tick = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cur += '|';
      i++;
    } else if (c === '`') {
      let n = 1;
      while (s[i + n] === '`') n++;
      cur += s.slice(i, i + n);
      i += n - 1;
      tick = tick === 0 ? n : tick === n ? 0 : tick;
    } else if (c === '|' && tick === 0) {
      cells.push(cur.trim());
      cur = '';
    } else {
      cur += c;
    }
  }
  cells.push(cur.trim());
  return cells;
}

function tableAlign(cell) {
  const l = cell.startsWith(':');
  const r = cell.endsWith(':');
  return l && r ? 'center' : r ? 'right' : l ? 'left' : null;
}

// Parses lines into blocks. depth guards against pathological nesting.
function parseBlocks(lines, depth) {
  const blocks = [];
  let i = 0;
  const n = lines.length;
  while (i < n) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m;
    // Fenced code.
    if ((m = RE_FENCE.exec(line)) && !(m[2][0] === '`' && m[3].includes('`'))) {
      const ind = m[1].length;
      const fence = m[2];
      const lang = m[3].trim().split(/\s+/)[0] || '';
      const body = [];
      i++;
      let closed = false;
      while (i < n) {
        const l = lines[i];
        const c = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(l);
        if (c && c[1][0] === fence[0] && c[1].length >= fence.length) {
          closed = true;
          i++;
          break;
        }
        body.push(l.slice(Math.min(ind, indentOf(l))));
        i++;
      }
      blocks.push({ t: 'code', lang, text: body.join('\n'), closed });
      continue;
    }
    if ((m = RE_ATX.exec(line))) {
      blocks.push({ t: 'heading', level: m[1].length, children: parseInline(m[2] || '') });
      i++;
      continue;
    }
    if (RE_HR.test(line)) {
      blocks.push({ t: 'hr' });
      i++;
      continue;
    }
    if (RE_QUOTE.test(line)) {
      const inner = [];
      while (i < n && RE_QUOTE.test(lines[i])) {
        inner.push(lines[i].replace(/^ {0,3}> ?/, ''));
        i++;
      }
      blocks.push(depth < MAX_DEPTH ? { t: 'quote', children: parseBlocks(inner, depth + 1) }
        : { t: 'para', children: parseInline(inner.join('\n')) });
      continue;
    }
    const lm = listMarker(line);
    if (lm && lm.indent <= 3 && depth < MAX_DEPTH) {
      i = parseList(lines, i, lm, blocks, depth);
      continue;
    }
    // A table: a header row, then a delimiter row with the same cell count.
    if (line.includes('|') && i + 1 < n && RE_TABLE_DELIM.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const head = splitRow(line);
      const delim = splitRow(lines[i + 1]);
      if (head.length === delim.length && (lines[i + 1].includes('|') || head.length === 1)) {
        const align = delim.map(tableAlign);
        const rows = [];
        i += 2;
        while (i < n && !isBlank(lines[i]) && lines[i].includes('|') && !startsBlock(lines[i])) {
          const cells = splitRow(lines[i]).slice(0, head.length);
          while (cells.length < head.length) cells.push('');
          rows.push(cells.map((c) => parseInline(c)));
          i++;
        }
        blocks.push({ t: 'table', align, head: head.map((c) => parseInline(c)), rows });
        continue;
      }
    }
    // A paragraph: lines up to a blank line or another block; a setext
    // underline makes it a heading.
    const para = [line];
    i++;
    let heading = 0;
    while (i < n && !isBlank(lines[i])) {
      const l = lines[i];
      const st = RE_SETEXT.exec(l);
      if (st) {
        heading = st[1][0] === '=' ? 1 : 2;
        i++;
        break;
      }
      if (startsBlock(l)) break;
      if (l.includes('|') && i + 1 < n && RE_TABLE_DELIM.test(lines[i + 1]) && lines[i + 1].includes('-')) break;
      para.push(l);
      i++;
    }
    const text = para.map((l) => l.replace(/^[ \t]+/, '')).join('\n');
    blocks.push(heading ? { t: 'heading', level: heading, children: parseInline(text) }
      : { t: 'para', children: parseInline(text) });
  }
  return blocks;
}

// Parses a list starting at lines[i] (whose marker is first); pushes it
// onto blocks and returns the index after it.
function parseList(lines, i, first, blocks, depth) {
  const n = lines.length;
  const list = { t: 'list', ordered: first.ordered, start: first.start, items: [], loose: false };
  let sawBlankBetween = false;
  while (i < n) {
    const lm = listMarker(lines[i]);
    if (!lm || lm.ordered !== first.ordered || lm.ch !== first.ch || lm.indent > first.indent + 3) break;
    if (sawBlankBetween) list.loose = true;
    const body = [lm.rest];
    const contentIndent = lm.content;
    i++;
    let blankInside = false;
    let lastBlank = false;
    while (i < n) {
      const l = lines[i];
      if (isBlank(l)) {
        // A blank line belongs to the item only if indented content follows.
        let j = i + 1;
        while (j < n && isBlank(lines[j])) j++;
        if (j < n && indentOf(lines[j]) >= contentIndent) {
          for (; i < j; i++) body.push('');
          blankInside = true;
          lastBlank = true;
          continue;
        }
        break;
      }
      const ind = indentOf(l);
      const nested = listMarker(l);
      if (ind >= contentIndent || (nested && ind > lm.indent + 1)) {
        body.push(l.slice(Math.min(ind, contentIndent)));
      } else if (nested || lastBlank || startsBlock(l)) {
        break;
      } else {
        body.push(l.trimStart()); // lazy continuation of the item's paragraph
      }
      lastBlank = false;
      i++;
    }
    let checked = null;
    const task = /^\[([ xX])\][ \t]+/.exec(body[0]);
    if (task) {
      checked = task[1] !== ' ';
      body[0] = body[0].slice(task[0].length);
    }
    const itemBlocks = parseBlocks(body, depth + 1);
    if (blankInside && itemBlocks.filter((b) => b.t !== 'list').length > 1) list.loose = true;
    list.items.push({ blocks: itemBlocks, checked });
    // Blank lines between items make the list loose, if it goes on.
    sawBlankBetween = false;
    let j = i;
    while (j < n && isBlank(lines[j])) j++;
    if (j > i && j < n) {
      const next = listMarker(lines[j]);
      if (next && next.ordered === first.ordered && next.ch === first.ch && next.indent <= first.indent + 3) {
        sawBlankBetween = true;
        i = j;
      }
    }
  }
  blocks.push(list);
  return i;
}

// ---- inlines -------------------------------------------------------------

const ASCII_PUNCT = /[!-/:-@[-`{-~]/;
const UNI_PUNCT = /[\p{P}\p{S}]/u;
const UNI_SPACE = /\s/u;

function isPunct(c) {
  return c !== undefined && c !== '' && (ASCII_PUNCT.test(c) || UNI_PUNCT.test(c));
}
function isSpace(c) {
  return c === undefined || c === '' || UNI_SPACE.test(c);
}

// For every '[' in s, the index of the ']' that closes it (-1: none),
// skipping escapes and code spans: one pass with a stack, so a reply full
// of brackets costs linear time.
function bracketMatches(s) {
  const match = new Int32Array(s.length).fill(-1);
  const stack = [];
  const noCloser = new Map(); // backtick run length -> no closer after this index
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    if (c === '\\') {
      k++;
    } else if (c === '`') {
      let run = 1;
      while (s[k + run] === '`') run++;
      let end = -1;
      if (!(noCloser.get(run) <= k)) {
        for (let q = s.indexOf('`', k + run); q >= 0; q = s.indexOf('`', q)) {
          let r = 1;
          while (s[q + r] === '`') r++;
          if (r === run) {
            end = q;
            break;
          }
          q += r;
        }
        if (end < 0) noCloser.set(run, k);
      }
      k = end >= 0 ? end + run - 1 : k + run - 1;
    } else if (c === '[') {
      stack.push(k);
    } else if (c === ']' && stack.length) {
      match[stack.pop()] = k;
    }
  }
  return match;
}

// Parses "(dest "title")" at s[i] (s[i] === '('); returns {href, end} or
// null. end is the index after ')'.
function linkDestination(s, i) {
  let k = i + 1;
  while (s[k] === ' ' || s[k] === '\n') k++;
  let href = '';
  if (s[k] === '<') {
    const close = s.indexOf('>', k + 1);
    if (close < 0) return null;
    href = s.slice(k + 1, close);
    if (href.includes('\n') || href.includes('<')) return null;
    k = close + 1;
  } else {
    let parens = 0;
    const startK = k;
    for (; k < s.length; k++) {
      const c = s[k];
      if (c === '\\' && k + 1 < s.length) {
        k++;
        continue;
      }
      if (c === '(') parens++;
      else if (c === ')') {
        if (parens === 0) break;
        parens--;
      } else if (/\s/.test(c)) break;
    }
    href = s.slice(startK, k).replace(/\\([!-/:-@[-`{-~])/g, '$1');
  }
  while (s[k] === ' ' || s[k] === '\n') k++;
  // An optional title, ignored (it would only be a tooltip).
  if (s[k] === '"' || s[k] === "'" || s[k] === '(') {
    const close = s[k] === '(' ? ')' : s[k];
    const end = s.indexOf(close, k + 1);
    if (end < 0) return null;
    k = end + 1;
    while (s[k] === ' ' || s[k] === '\n') k++;
  }
  if (s[k] !== ')') return null;
  return { href, end: k + 1 };
}

const RE_AUTOLINK = /^<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]*)>/;
const RE_EMAIL_AUTOLINK = /^<([a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*)>/;
const RE_BARE_URL = /^https?:\/\/[^\s<]+/i;

// Trims trailing punctuation that is more likely prose than URL (GFM's
// rule), keeping a ')' that closes a '(' inside the URL.
function trimUrl(u) {
  for (;;) {
    const last = u[u.length - 1];
    if (/[?!.,:*_~'";]/.test(last)) {
      u = u.slice(0, -1);
    } else if (last === ')') {
      const open = (u.match(/\(/g) || []).length;
      const close = (u.match(/\)/g) || []).length;
      if (close > open) u = u.slice(0, -1);
      else return u;
    } else {
      return u;
    }
  }
}

// Parses inline text into nodes. noLinks: inside a link's text (links do
// not nest).
export function parseInline(s, noLinks = false) {
  const tokens = [];
  let text = '';
  const flush = () => {
    if (text) tokens.push({ t: 'text', v: text });
    text = '';
  };
  // Positions of backtick runs by length with no closer further on: an
  // opener that found no closer once will not find one later either.
  const noCloser = new Map();
  let brackets = null;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    if (c === '\\') {
      const next = s[i + 1];
      if (next === '\n') {
        flush();
        tokens.push({ t: 'br' });
        i += 2;
        continue;
      }
      if (next !== undefined && ASCII_PUNCT.test(next)) {
        text += next;
        i += 2;
        continue;
      }
      text += c;
      i++;
      continue;
    }
    if (c === '`') {
      let run = 1;
      while (s[i + run] === '`') run++;
      const start = i + run;
      let end = -1;
      if (!(noCloser.get(run) <= start)) {
        let k = start;
        for (;;) {
          k = s.indexOf('`', k);
          if (k < 0) break;
          let r = 1;
          while (s[k + r] === '`') r++;
          if (r === run) {
            end = k;
            break;
          }
          k += r;
        }
        if (end < 0) noCloser.set(run, start);
      }
      if (end >= 0) {
        let code = s.slice(start, end).replace(/\n/g, ' ');
        if (code.length > 2 && code[0] === ' ' && code[code.length - 1] === ' ' && code.trim()) {
          code = code.slice(1, -1);
        }
        flush();
        tokens.push({ t: 'code', v: code });
        i = end + run;
      } else {
        text += '`'.repeat(run);
        i += run;
      }
      continue;
    }
    if (c === '\n') {
      // Two trailing spaces or not, a newline in a chat paragraph is a break.
      text = text.replace(/ +$/, '');
      flush();
      tokens.push({ t: 'br' });
      i++;
      continue;
    }
    if ((c === '[' || (c === '!' && s[i + 1] === '[')) && !noLinks) {
      const open = c === '[' ? i : i + 1;
      brackets ??= bracketMatches(s);
      const close = brackets[open];
      if (close > open && s[close + 1] === '(') {
        const dest = linkDestination(s, close + 1);
        if (dest) {
          const label = s.slice(open + 1, close);
          const href = safeUrl(dest.href);
          flush();
          const children = parseInline(label || dest.href, true);
          if (c === '!') {
            // An image is never loaded: it becomes a link to it (or its text).
            const alt = label || 'image';
            tokens.push(href ? { t: 'link', href, image: true, children: [{ t: 'text', v: alt }] }
              : { t: 'text', v: alt });
          } else {
            tokens.push(href ? { t: 'link', href, children } : { t: 'span', children });
          }
          i = dest.end;
          continue;
        }
      }
      text += c;
      i++;
      continue;
    }
    if (c === '<' && !noLinks) {
      const rest = s.slice(i, i + 2100);
      let m = RE_AUTOLINK.exec(rest);
      if (m && safeUrl(m[1])) {
        flush();
        tokens.push({ t: 'link', href: safeUrl(m[1]), children: [{ t: 'text', v: m[1] }] });
        i += m[0].length;
        continue;
      }
      m = RE_EMAIL_AUTOLINK.exec(rest);
      if (m) {
        flush();
        tokens.push({ t: 'link', href: safeUrl('mailto:' + m[1]), children: [{ t: 'text', v: m[1] }] });
        i += m[0].length;
        continue;
      }
      text += c;
      i++;
      continue;
    }
    if ((c === 'h' || c === 'H') && !noLinks && (i === 0 || /[\s(*_~]/.test(s[i - 1]))) {
      const m = RE_BARE_URL.exec(s.slice(i, i + 2100));
      if (m) {
        const u = trimUrl(m[0]);
        const href = safeUrl(u);
        if (href && u.length > 8) {
          flush();
          tokens.push({ t: 'link', href, children: [{ t: 'text', v: u }] });
          i += u.length;
          continue;
        }
      }
    }
    if (c === '*' || c === '_' || c === '~') {
      let run = 1;
      while (s[i + run] === c) run++;
      const before = i > 0 ? s[i - 1] : '';
      const after = s[i + run] ?? '';
      const left = !isSpace(after) && (!isPunct(after) || isSpace(before) || isPunct(before));
      const right = !isSpace(before) && (!isPunct(before) || isSpace(after) || isPunct(after));
      let canOpen = left;
      let canClose = right;
      if (c === '_') {
        canOpen = left && (!right || isPunct(before));
        canClose = right && (!left || isPunct(after));
      }
      if (c === '~' && run !== 2) {
        canOpen = canClose = false; // only ~~strike~~: a lone ~ is "about"
      }
      flush();
      tokens.push({ t: 'delim', ch: c, count: run, orig: run, canOpen, canClose });
      i += run;
      continue;
    }
    text += c;
    i++;
  }
  flush();
  processEmphasis(tokens);
  return mergeText(tokens.map((t) => (t.t === 'delim' ? { t: 'text', v: t.ch.repeat(t.count) } : t)));
}

// CommonMark's delimiter algorithm (simplified): matches closers with the
// nearest compatible opener; ** and __ make strong, * and _ em, ~~ del.
// Linear: a closer that finds no opener records how far back it looked.
function processEmphasis(tokens) {
  const bottom = new Map();
  let c = 0;
  while (c < tokens.length) {
    const closer = tokens[c];
    if (closer.t !== 'delim' || !closer.canClose || closer.count === 0) {
      c++;
      continue;
    }
    const key = closer.ch + (closer.canOpen ? '1' : '0') + (closer.orig % 3);
    const floor = bottom.get(key) ?? -1;
    let o = c - 1;
    let found = -1;
    for (; o > floor; o--) {
      const op = tokens[o];
      if (op.t !== 'delim' || op.ch !== closer.ch || !op.canOpen || op.count === 0) continue;
      if (closer.ch === '~' && op.count !== closer.count) continue;
      const odd = (op.canClose || closer.canOpen) && (op.orig + closer.orig) % 3 === 0 &&
        !(op.orig % 3 === 0 && closer.orig % 3 === 0);
      if (odd && closer.ch !== '~') continue;
      found = o;
      break;
    }
    if (found < 0) {
      bottom.set(key, c - 1);
      if (!closer.canOpen) closer.canClose = false;
      c++;
      continue;
    }
    const opener = tokens[found];
    let use;
    let type;
    if (closer.ch === '~') {
      use = Math.min(opener.count, closer.count);
      type = 'del';
    } else {
      use = opener.count >= 2 && closer.count >= 2 ? 2 : 1;
      type = use === 2 ? 'strong' : 'em';
    }
    const inner = tokens.slice(found + 1, c).map((t) => (t.t === 'delim' ? { t: 'text', v: t.ch.repeat(t.count) } : t));
    const node = { t: type, children: mergeText(inner) };
    opener.count -= use;
    closer.count -= use;
    tokens.splice(found + 1, c - found - 1, node);
    // Everything after the opener moved: no recorded floor may lie past it.
    for (const [k, v] of bottom) if (v > found) bottom.set(k, found);
    c = found + 2; // the closer now sits right after the new node
    if (opener.count === 0) {
      tokens.splice(found, 1);
      c--;
    }
    if (closer.count === 0) {
      tokens.splice(c, 1);
    }
  }
}

function mergeText(nodes) {
  const out = [];
  for (const n of nodes) {
    if (n.t === 'text' && out.length && out[out.length - 1].t === 'text') {
      out[out.length - 1] = { t: 'text', v: out[out.length - 1].v + n.v };
    } else if (!(n.t === 'text' && n.v === '')) {
      out.push(n);
    }
  }
  return out;
}

// ---- the whole document --------------------------------------------------

// Parses Markdown text into a tree of blocks.
export function parseMarkdown(src) {
  const lines = String(src ?? '').replace(/\r\n?/g, '\n').replace(/\u0000/g, '\uFFFD').split('\n').map(expandTabs);
  return parseBlocks(lines, 0);
}

// ---- DOM -------------------------------------------------------------------

function el(doc, tag, cls) {
  const e = doc.createElement(tag);
  if (cls) e.setAttribute('class', cls);
  return e;
}

function appendInline(doc, parent, nodes) {
  for (const nd of nodes) {
    switch (nd.t) {
      case 'text':
        parent.appendChild(doc.createTextNode(nd.v));
        break;
      case 'br':
        parent.appendChild(doc.createElement('br'));
        break;
      case 'code': {
        const e = el(doc, 'code');
        e.appendChild(doc.createTextNode(nd.v));
        parent.appendChild(e);
        break;
      }
      case 'em':
      case 'strong':
      case 'del': {
        const e = el(doc, nd.t);
        appendInline(doc, e, nd.children);
        parent.appendChild(e);
        break;
      }
      case 'span': {
        const e = el(doc, 'span', 'md-link-unsafe');
        appendInline(doc, e, nd.children);
        parent.appendChild(e);
        break;
      }
      case 'link': {
        const e = el(doc, 'a', nd.image ? 'md-image-link' : null);
        e.setAttribute('href', nd.href);
        e.setAttribute('rel', 'noopener noreferrer nofollow');
        e.setAttribute('target', '_blank');
        e.setAttribute('title', nd.href);
        appendInline(doc, e, nd.children);
        parent.appendChild(e);
        break;
      }
      default:
        break;
    }
  }
}

function appendBlocks(doc, parent, blocks, tight) {
  for (const b of blocks) {
    switch (b.t) {
      case 'heading': {
        const e = el(doc, 'h' + b.level);
        appendInline(doc, e, b.children);
        parent.appendChild(e);
        break;
      }
      case 'para': {
        if (tight) {
          appendInline(doc, parent, b.children);
        } else {
          const e = el(doc, 'p');
          appendInline(doc, e, b.children);
          parent.appendChild(e);
        }
        break;
      }
      case 'code': {
        const box = el(doc, 'div', 'codeblock');
        const head = el(doc, 'div', 'codeblock-head');
        const lang = el(doc, 'span', 'codeblock-lang');
        lang.appendChild(doc.createTextNode(b.lang || 'text'));
        const btn = el(doc, 'button', 'copy-code');
        btn.setAttribute('type', 'button');
        btn.setAttribute('data-action', 'copy-code');
        btn.setAttribute('aria-label', 'Copy code' + (b.lang ? ' (' + b.lang + ')' : ''));
        btn.appendChild(doc.createTextNode('Copy'));
        head.appendChild(lang);
        head.appendChild(btn);
        const pre = el(doc, 'pre');
        const code = el(doc, 'code');
        if (/^[\w+#.-]{1,32}$/.test(b.lang)) code.setAttribute('data-lang', b.lang);
        code.appendChild(doc.createTextNode(b.text));
        pre.appendChild(code);
        box.appendChild(head);
        box.appendChild(pre);
        parent.appendChild(box);
        break;
      }
      case 'quote': {
        const e = el(doc, 'blockquote');
        appendBlocks(doc, e, b.children, false);
        parent.appendChild(e);
        break;
      }
      case 'list': {
        const e = el(doc, b.ordered ? 'ol' : 'ul');
        if (b.ordered && b.start !== 1) e.setAttribute('start', String(b.start));
        for (const item of b.items) {
          const li = el(doc, 'li', item.checked === null ? null : 'task');
          if (item.checked !== null) {
            const box = el(doc, 'input');
            box.setAttribute('type', 'checkbox');
            box.setAttribute('disabled', '');
            if (item.checked) box.setAttribute('checked', '');
            li.appendChild(box);
            li.appendChild(doc.createTextNode(' '));
          }
          appendBlocks(doc, li, item.blocks, !b.loose);
          e.appendChild(li);
        }
        parent.appendChild(e);
        break;
      }
      case 'table': {
        const wrap = el(doc, 'div', 'table-wrap');
        const table = el(doc, 'table');
        const thead = el(doc, 'thead');
        const tr = el(doc, 'tr');
        b.head.forEach((cell, k) => {
          const th = el(doc, 'th', b.align[k] ? 'al-' + b.align[k] : null);
          th.setAttribute('scope', 'col');
          appendInline(doc, th, cell);
          tr.appendChild(th);
        });
        thead.appendChild(tr);
        table.appendChild(thead);
        if (b.rows.length) {
          const tbody = el(doc, 'tbody');
          for (const row of b.rows) {
            const r = el(doc, 'tr');
            row.forEach((cell, k) => {
              const td = el(doc, 'td', b.align[k] ? 'al-' + b.align[k] : null);
              appendInline(doc, td, cell);
              r.appendChild(td);
            });
            tbody.appendChild(r);
          }
          table.appendChild(tbody);
        }
        wrap.appendChild(table);
        parent.appendChild(wrap);
        break;
      }
      case 'hr':
        parent.appendChild(el(doc, 'hr'));
        break;
      default:
        break;
    }
  }
}

// Renders Markdown text into a new DocumentFragment of doc.
export function renderMarkdown(src, doc = globalThis.document) {
  const frag = doc.createDocumentFragment();
  appendBlocks(doc, frag, parseMarkdown(src), false);
  return frag;
}
