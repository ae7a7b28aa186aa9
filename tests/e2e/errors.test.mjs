// Every bad input through curl: its status and OpenAI's error shape
// {"error":{"message","type","param","code"}}, plus the Host, CORS and
// body-size guards, and 503 with Retry-After when the queue is full.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, curl, sleep, waitGauges } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(['--parallel', '4']); });
after(async () => { await srv.stop(); });

const post = (path, body, extra = []) =>
  curl(['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', body, ...extra, `${srv.url}${path}`]);

function checkError(r, status, param) {
  assert.equal(r.status, status, r.body);
  const j = JSON.parse(r.body);
  assert.deepEqual(Object.keys(j), ['error']);
  for (const k of ['message', 'type', 'param', 'code']) assert.ok(k in j.error, `missing ${k}`);
  assert.equal(typeof j.error.message, 'string');
  if (param !== undefined) assert.equal(j.error.param, param);
  return j.error;
}

const MSG = '"messages":[{"role":"user","content":"hi"}]';
const cases = [
  ['bad JSON', '/v1/chat/completions', '{"messages": [', 400, null],
  ['trailing garbage', '/v1/chat/completions', `{${MSG}} x`, 400, null],
  ['not an object', '/v1/chat/completions', '[1]', 400, null],
  ['missing messages', '/v1/chat/completions', '{}', 400, 'messages'],
  ['wrong type: temperature', '/v1/chat/completions', `{${MSG},"temperature":"hot"}`, 400, 'temperature'],
  ['wrong type: max_tokens', '/v1/chat/completions', `{${MSG},"max_tokens":"5"}`, 400, 'max_tokens'],
  ['wrong type: stream', '/v1/chat/completions', `{${MSG},"stream":"yes"}`, 400, 'stream'],
  ['wrong type: stop', '/v1/chat/completions', `{${MSG},"stop":7}`, 400, 'stop'],
  ['wrong type: n', '/v1/chat/completions', `{${MSG},"n":1.5}`, 400, 'n'],
  ['out of range: top_p', '/v1/chat/completions', `{${MSG},"top_p":2}`, 400, 'top_p'],
  ['bad role', '/v1/chat/completions', '{"messages":[{"role":"robot","content":"x"}]}', 400, 'messages[0].role'],
  ['bad content part', '/v1/chat/completions',
    '{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}', 400,
    'messages[0].content[0]'],
  ['huge number', '/v1/chat/completions', `{${MSG},"max_tokens":1e400}`, 400, null],
  ['unknown model', '/v1/chat/completions', `{${MSG},"model":"no-such-model"}`, 404, 'model'],
  ['prompt + max_tokens over the context', '/v1/completions', '{"prompt":"Once","max_tokens":5000}', 400,
    'max_tokens'],
  ['token id out of range', '/v1/completions', '{"prompt":[1,2,99999]}', 400, 'prompt'],
  ['logit_bias id out of range', '/v1/completions', '{"prompt":"x","logit_bias":{"99999":1}}', 400, 'logit_bias'],
  ['empty prompt list', '/v1/completions', '{"prompt":[]}', 400, 'prompt'],
  ['tokenize without content', '/tokenize', '{}', 400, 'content'],
];

for (const [name, path, body, status, param] of cases) {
  test(`error: ${name} -> ${status}`, async () => {
    checkError(await post(path, body), status, param);
  });
}

test('deep nesting is refused', async () => {
  checkError(await post('/v1/chat/completions', `{"messages":${'['.repeat(5000)}`), 400, null);
});

test('a prompt longer than the context is a 400, not truncated', async () => {
  const long = 'Once upon a time there was a dog. '.repeat(400);
  const e = checkError(await post('/v1/completions', JSON.stringify({ prompt: long })), 400, 'prompt');
  assert.equal(e.code, 'context_length_exceeded');
});

test('unknown route is 404, wrong method 405', async () => {
  checkError(await curl([`${srv.url}/v1/nothing`]), 404);
  checkError(await curl([`${srv.url}/v1/chat/completions`]), 405);
});

test('a body over the cap is 413', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbe2e-'));
  const file = join(dir, 'big.json');
  writeFileSync(file, JSON.stringify({ prompt: 'a'.repeat(9 << 20) }));
  checkError(await curl(['-X', 'POST', '-H', 'Content-Type: application/json', '--data-binary', `@${file}`,
    `${srv.url}/v1/completions`]), 413);
});

test('Host header of another name is refused (DNS rebinding)', async () => {
  checkError(await curl(['-H', 'Host: attacker.example', `${srv.url}/health`]), 403);
  const ok = await curl(['-H', `Host: localhost:${srv.port}`, `${srv.url}/health`]);
  assert.equal(ok.status, 200);
});

test('CORS is off by default; foreign origins cannot POST', async () => {
  const pre = await curl(['-X', 'OPTIONS', '-H', 'Origin: https://evil.example', '-H',
    'Access-Control-Request-Method: POST', `${srv.url}/v1/chat/completions`]);
  assert.ok(!/access-control-allow-origin/i.test(pre.headers));
  checkError(await post('/v1/completions', '{"prompt":"x","max_tokens":1}', ['-H', 'Origin: https://evil.example']),
    403);
});

test('CORS with --cors-origin', async () => {
  const s2 = await startServer(['--cors-origin', 'https://ui.example']);
  try {
    const pre = await curl(['-X', 'OPTIONS', '-H', 'Origin: https://ui.example', '-H',
      'Access-Control-Request-Method: POST', '-H', 'Access-Control-Request-Headers: authorization,content-type',
      `${s2.url}/v1/chat/completions`]);
    assert.equal(pre.status, 204);
    assert.match(pre.headers, /access-control-allow-origin: https:\/\/ui\.example/i);
    const r = await curl(['-X', 'POST', '-H', 'Origin: https://ui.example', '-H', 'Content-Type: application/json',
      '--data-binary', '{"prompt":"x","max_tokens":1}', `${s2.url}/v1/completions`]);
    assert.equal(r.status, 200);
    assert.match(r.headers, /access-control-allow-origin: https:\/\/ui\.example/i);
  } finally {
    await s2.stop();
  }
});

test('a full queue answers 503 with Retry-After', async () => {
  const s2 = await startServer(['--parallel', '1', '--queue', '1']);
  try {
    const long = JSON.stringify({ prompt: 'Once', max_tokens: 1500, logit_bias: { 2: -100 }, stream: true });
    const sendLong = (signal) => fetch(`${s2.url}/v1/completions`, { method: 'POST', body: long,
      headers: { 'Content-Type': 'application/json' }, signal });
    // Two held requests fill the one running slot and the one queue place; a third must be refused. A held request
    // ends by itself after 1500 tokens (well under a second on an idle machine), so on a loaded machine the state
    // can pass before it is seen or before the third request arrives: then the attempt is repeated, and what each
    // attempt saw is kept for the failure message.
    let refused = null;
    const seen = [];
    for (let attempt = 0; attempt < 8 && !refused; attempt++) {
      const ctrl = new AbortController();
      const hold = [1, 2].map(() => sendLong(ctrl.signal).then((r) => r.body.getReader().read()).catch(() => null));
      const full = await waitGauges(s2.url, { solebox_requests_active: 1, solebox_requests_queued: 1 }, 5000);
      if (full < Infinity) {
        const r = await sendLong(ctrl.signal).catch((err) => err);
        if (r instanceof Error) seen.push(`attempt ${attempt}: third request failed: ${r.message}`);
        else if (r.status === 200) seen.push(`attempt ${attempt}: full after ${full.toFixed(0)} ms, third accepted`);
        else refused = { status: r.status, headers: r.headers, body: await r.text() };
      } else {
        seen.push(`attempt ${attempt}: one running and one queued not seen in 5 s`);
      }
      ctrl.abort();
      await Promise.all(hold);
      await waitGauges(s2.url, { solebox_requests_active: 0, solebox_requests_queued: 0 }, 10000);
    }
    assert.ok(refused, `no request beyond the queue was refused:\n${seen.join('\n')}\n${s2.log().slice(-2000)}`);
    assert.equal(refused.status, 503, refused.body);
    const e = checkError(refused, 503);
    assert.equal(e.type, 'server_error');
    assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
  } finally {
    await s2.stop();
  }
});

test('/health, /metrics, /tokenize, /detokenize, /', async () => {
  const h = await curl([`${srv.url}/health`]);
  assert.equal(h.status, 200);
  assert.equal(JSON.parse(h.body).status, 'ok');
  const t = await post('/tokenize', '{"content":"Once upon","with_pieces":true}');
  const toks = JSON.parse(t.body).tokens;
  assert.ok(toks.length >= 2 && typeof toks[0].id === 'number' && typeof toks[0].piece === 'string');
  const d = await post('/detokenize', JSON.stringify({ tokens: toks.map((x) => x.id) }));
  assert.equal(JSON.parse(d.body).content.trim(), 'Once upon');
  const m = await curl([`${srv.url}/metrics`]);
  assert.equal(m.status, 200);
  for (const name of ['solebox_requests_total', 'solebox_prompt_tokens_total', 'solebox_generated_tokens_total',
    'solebox_tokens_per_second', 'solebox_time_to_first_token_seconds_bucket',
    'solebox_inter_token_latency_seconds_bucket', 'solebox_requests_active', 'solebox_requests_queued',
    'solebox_kv_cache_pages_used']) assert.ok(m.body.includes(name), name);
  assert.match(m.body, /solebox_requests_total\{endpoint="\/v1\/chat\/completions",status="400"\} \d+/);
  const root = await curl([`${srv.url}/`]);
  assert.equal(root.status, 200);
});

test('no model: the server starts and /health says how to add one', async () => {
  const s3 = await startServer([], { model: null, waitHealthy: false });
  try {
    await sleep(200);
    const h = await curl([`${s3.url}/health`]);
    assert.equal(h.status, 503);
    const j = JSON.parse(h.body);
    assert.equal(j.status, 'no_model');
    assert.match(j.message, /-m/);
    assert.match(s3.log(), /no model loaded/);
  } finally {
    await s3.stop();
  }
});
