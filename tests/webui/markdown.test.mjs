// Unit tests of webui/js/markdown.js (node --test). The renderer runs
// against fakedom.mjs, which records exactly the nodes it builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { renderMarkdown, parseMarkdown, safeUrl } from '../../webui/js/markdown.js';
import { fakeDocument, serialize, elements } from './fakedom.mjs';

const html = (md) => serialize(renderMarkdown(md, fakeDocument));
const here = dirname(fileURLToPath(import.meta.url));

test('headings, paragraphs and line breaks', () => {
  assert.equal(html('# Title\n\nSome text\nnext line'), '<h1>Title</h1><p>Some text<br>next line</p>');
  assert.equal(html('### Three ###'), '<h3>Three</h3>');
  assert.equal(html('Big\n==='), '<h1>Big</h1>');
  assert.equal(html('Small\n---'), '<h2>Small</h2>');
  assert.equal(html('#nospace'), '<p>#nospace</p>');
});

test('emphasis, strong, strike, code spans', () => {
  assert.equal(html('*a* **b** ***c*** ~~d~~'), '<p><em>a</em> <strong>b</strong> <em><strong>c</strong></em> <del>d</del></p>');
  assert.equal(html('_a_ __b__'), '<p><em>a</em> <strong>b</strong></p>');
  assert.equal(html('snake_case_name and 2 * 3 * 4'), '<p>snake_case_name and 2 * 3 * 4</p>');
  assert.equal(html('*a **b** c*'), '<p><em>a <strong>b</strong> c</em></p>');
  assert.equal(html('`a*b*c` and `` x ` y ``'), '<p><code>a*b*c</code> and <code>x ` y</code></p>');
  assert.equal(html('**unclosed'), '<p>**unclosed</p>');
  assert.equal(html('about ~5 minutes, ~10 tops'), '<p>about ~5 minutes, ~10 tops</p>');
  assert.equal(html('\\*not em\\*'), '<p>*not em*</p>');
});

test('lists: bullets, ordered with start, nesting, tasks, tight and loose', () => {
  assert.equal(html('- a\n- b'), '<ul><li>a</li><li>b</li></ul>');
  assert.equal(html('3. x\n4. y'), '<ol start="3"><li>x</li><li>y</li></ol>');
  assert.equal(html('- a\n  - b\n  - c\n- d'), '<ul><li>a<ul><li>b</li><li>c</li></ul></li><li>d</li></ul>');
  assert.equal(html('1. one\n   - sub\n2. two'), '<ol><li>one<ul><li>sub</li></ul></li><li>two</li></ol>');
  assert.equal(html('- a\n\n- b'), '<ul><li><p>a</p></li><li><p>b</p></li></ul>');
  assert.equal(html('- [ ] todo\n- [x] done'),
    '<ul><li class="task"><input type="checkbox" disabled> todo</li>' +
    '<li class="task"><input type="checkbox" disabled checked> done</li></ul>');
  assert.equal(html('Intro:\n- a\n- b'), '<p>Intro:</p><ul><li>a</li><li>b</li></ul>');
});

test('fenced code keeps text verbatim and offers a copy button', () => {
  const out = html('```js\nconst a = "<b>";\n  x && y\n```');
  assert.equal(out, '<div class="codeblock"><div class="codeblock-head"><span class="codeblock-lang">js</span>' +
    '<button class="copy-code" type="button" data-action="copy-code" aria-label="Copy code (js)">Copy</button></div>' +
    '<pre><code data-lang="js">const a = &quot;&lt;b&gt;&quot;;\n  x &amp;&amp; y</code></pre></div>');
  // A fence still open (a reply streaming in) runs to the end.
  const open = parseMarkdown('text\n~~~\npartial');
  assert.equal(open[1].t, 'code');
  assert.equal(open[1].text, 'partial');
  assert.equal(open[1].closed, false);
  // A language string cannot smuggle an attribute.
  assert.ok(!html('```js" onmouseover="x\nA\n```').includes('onmouseover="'));
});

test('tables with alignment and pipes in code', () => {
  const out = html('| a | b | c |\n|:--|:-:|--:|\n| 1 | `x|y` | 3 |\n| 4 |');
  assert.equal(out, '<div class="table-wrap"><table><thead><tr><th class="al-left" scope="col">a</th>' +
    '<th class="al-center" scope="col">b</th><th class="al-right" scope="col">c</th></tr></thead><tbody>' +
    '<tr><td class="al-left">1</td><td class="al-center"><code>x|y</code></td><td class="al-right">3</td></tr>' +
    '<tr><td class="al-left">4</td><td class="al-center"></td><td class="al-right"></td></tr></tbody></table></div>');
});

test('quotes and rules', () => {
  assert.equal(html('> quoted **b**\n> more'), '<blockquote><p>quoted <strong>b</strong><br>more</p></blockquote>');
  assert.equal(html('a\n\n---\n\nb'), '<p>a</p><hr><p>b</p>');
});

test('links: only absolute http(s) and mailto become anchors', () => {
  assert.equal(html('[site](https://example.org/a?b=1)'),
    '<p><a href="https://example.org/a?b=1" rel="noopener noreferrer nofollow" target="_blank" ' +
    'title="https://example.org/a?b=1">site</a></p>');
  assert.equal(html('see https://example.org/x.'),
    '<p>see <a href="https://example.org/x" rel="noopener noreferrer nofollow" target="_blank" ' +
    'title="https://example.org/x">https://example.org/x</a>.</p>');
  assert.match(html('<https://a.example/(b)>'), /href="https:\/\/a\.example\/\(b\)"/);
  assert.match(html('<me@example.org>'), /href="mailto:me@example\.org"/);
  for (const bad of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'java\tscript:alert(1)', 'data:text/html,x',
    'vbscript:x', '/relative', '#frag', 'file:///etc/passwd', ' javascript:alert(1)', 'http://']) {
    const out = html(`[x](${bad})`);
    assert.ok(!out.includes('<a'), `${bad} became a link: ${out}`);
  }
  assert.equal(safeUrl('HTTPS://EXAMPLE.org'), 'https://example.org/');
  assert.equal(safeUrl('javascript:alert(1)'), null);
});

test('images are links, never loaded', () => {
  const out = html('![a cat](https://example.org/cat.png)');
  assert.ok(!out.includes('<img'));
  assert.match(out, /<a class="md-image-link" href="https:\/\/example\.org\/cat\.png"/);
  assert.equal(html('![x](javascript:alert(1))'), '<p>x</p>');
});

const ATTACKS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)><circle/></svg>',
  '<iframe src="https://evil.example"></iframe>',
  '<a href="javascript:alert(1)">click</a>',
  '[click](javascript:alert(1))',
  '[click](  javascript:alert(1) "t")',
  '[x](<javascript:alert(1)>)',
  '<javascript:alert(1)>',
  '![x](x" onerror="alert(1))',
  '```\n</code></pre><script>alert(1)</script>\n```',
  '| <img src=x onerror=alert(1)> |\n|---|\n| <script>x</script> |',
  '- <style>body{display:none}</style>',
  '> <object data="x"></object>',
  '**<b onclick="x">bold</b>**',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '[a](https://ok.example "<script>")',
];

const ALLOWED_TAGS = new Set(['p', 'br', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'em', 'strong', 'del', 'code', 'pre',
  'div', 'span', 'button', 'a', 'ul', 'ol', 'li', 'input', 'blockquote', 'hr', 'table', 'thead', 'tbody', 'tr', 'th',
  'td']);
const ALLOWED_ATTRS = new Set(['class', 'href', 'rel', 'target', 'title', 'type', 'aria-label', 'data-action',
  'data-lang', 'start', 'scope', 'disabled', 'checked']);

test('hostile replies produce only safe elements and attributes', () => {
  for (const a of ATTACKS) {
    const frag = renderMarkdown(a, fakeDocument);
    for (const e of elements(frag)) {
      assert.ok(ALLOWED_TAGS.has(e.tagName), `${JSON.stringify(a)} made <${e.tagName}>`);
      for (const [k, v] of e.attributes) {
        assert.ok(ALLOWED_ATTRS.has(k), `${JSON.stringify(a)} made attribute ${k}`);
        if (k === 'href') assert.match(v, /^(https?:\/\/|mailto:)/);
        if (k === 'type') assert.ok(v === 'button' || v === 'checkbox');
      }
    }
  }
  // The markup is there as text for the reader to see.
  assert.equal(renderMarkdown('<script>alert(1)</script>', fakeDocument).textContent, '<script>alert(1)</script>');
  assert.equal(html('<img src=x onerror=alert(1)>'), '<p>&lt;img src=x onerror=alert(1)&gt;</p>');
});

test('pathological input stays fast (linear-ish)', () => {
  const cases = ['*'.repeat(50000), '_a'.repeat(30000), '['.repeat(20000), '`'.repeat(30000),
    '*a **b '.repeat(8000), '>'.repeat(5000) + ' x', '- '.repeat(3000) + 'x',
    ('| a '.repeat(200) + '|\n') + ('|---'.repeat(200) + '|\n') + ('| b '.repeat(200) + '|\n').repeat(200),
    'x '.repeat(40000) + '\n'.repeat(20000), 'https://a.example/' + '('.repeat(20000)];
  for (const c of cases) {
    const t0 = performance.now();
    renderMarkdown(c, fakeDocument);
    const ms = performance.now() - t0;
    assert.ok(ms < 3000, `${JSON.stringify(c.slice(0, 20))}... took ${ms.toFixed(0)} ms`);
  }
});

test('no HTML-parsing sink anywhere in the page scripts', () => {
  const dir = join(here, '../../webui/js');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const src = readFileSync(join(dir, f), 'utf8');
    for (const sink of ['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'document.write', 'eval(', 'new Function',
      'createContextualFragment', 'srcdoc', 'DOMParser']) {
      assert.ok(!src.includes(sink), `${f} uses ${sink}`);
    }
  }
  const page = readFileSync(join(here, '../../webui/index.html'), 'utf8');
  assert.ok(!/<script(?![^>]*\bsrc=)/i.test(page), 'index.html has an inline script');
  assert.ok(!/\son[a-z]+=/i.test(page), 'index.html has an inline event handler');
  assert.ok(!/style=/i.test(page), 'index.html has an inline style');
  assert.ok(!/(https?:)?\/\/(?!www\.w3\.org\/2000\/svg)/.test(page.replace(/<!--[\s\S]*?-->/g, '')),
    'index.html refers to another origin');
});
