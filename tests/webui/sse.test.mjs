// Unit tests of webui/js/sse.js (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SSEParser, readEvents } from '../../webui/js/sse.js';

test('events split across pieces in every possible place', () => {
  const stream = 'data: {"a":1}\n\n: keep-alive\n\ndata: {"b":2}\r\n\r\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
  const want = ['{"a":1}', '{"b":2}', 'line1\nline2', '[DONE]'];
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new SSEParser();
    const got = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut)), ...p.end()];
    assert.deepEqual(got, want, `cut at ${cut}`);
  }
  const p = new SSEParser();
  const got = [];
  for (const ch of stream) got.push(...p.push(ch));
  assert.deepEqual(got, want);
});

test('an unterminated last event still arrives at the end', () => {
  const p = new SSEParser();
  assert.deepEqual(p.push('data: x'), []);
  assert.deepEqual(p.end(), ['x']);
});

test('readEvents decodes UTF-8 split across chunks', async () => {
  const bytes = new TextEncoder().encode('data: h\u00e9llo \u{1F600}\n\ndata: [DONE]\n\n');
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.slice(i, i + 3));
  const body = new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  const got = [];
  for await (const e of readEvents(new Response(body))) got.push(e);
  assert.deepEqual(got, ['h\u00e9llo \u{1F600}', '[DONE]']);
});
