// The API through the official `openai` package: chat and completions,
// streamed and not, usage and include_usage, n=2, stop strings, seed
// reproducibility, logprobs, models, prefix-cache reuse, errors as SDK
// exceptions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { existsSync } from 'node:fs';
import { startServer, MODEL } from './lib/server.mjs';

let srv, client, modelId;
const EOS_BAN = { 2: -100 }; // stories260K's </s>: generation runs to max_tokens

before(async () => {
  srv = await startServer(['--parallel', '8']);
  client = new OpenAI({ apiKey: 'unused', baseURL: `${srv.url}/v1`, maxRetries: 0, timeout: 60000 });
  modelId = (await client.models.list()).data[0].id;
});
after(async () => { await srv.stop(); });

function checkUsage(u, completion) {
  assert.equal(typeof u.prompt_tokens, 'number');
  assert.ok(u.prompt_tokens > 0);
  if (completion !== undefined) assert.equal(u.completion_tokens, completion);
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(typeof u.prompt_tokens_details.cached_tokens, 'number');
}

test('models list and retrieve', async () => {
  const list = await client.models.list();
  assert.equal(list.data.length, 1);
  assert.equal(list.data[0].object, 'model');
  assert.equal(list.data[0].id, 'stories260K');
  const m = await client.models.retrieve('stories260K');
  assert.equal(m.id, 'stories260K');
  await assert.rejects(client.models.retrieve('nope'), (e) => e.status === 404);
});

test('chat completion, not streamed', async () => {
  const r = await client.chat.completions.create({
    model: modelId, messages: [{ role: 'system', content: 'Tell a story.' }, { role: 'user', content: 'Once upon a time' }],
    max_tokens: 20, temperature: 0, logit_bias: EOS_BAN,
  });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(typeof r.created, 'number');
  assert.equal(r.model, modelId);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].index, 0);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.choices[0].finish_reason, 'length');
  checkUsage(r.usage, 20);
  assert.equal(r.timings.predicted_n, 20);
  assert.ok(r.timings.predicted_per_second > 0);
});

test('chat content as an array of text parts', async () => {
  const r = await client.chat.completions.create({
    model: modelId, max_tokens: 3, temperature: 0,
    messages: [{ role: 'user', content: [{ type: 'text', text: 'Once' }, { type: 'text', text: 'upon' }] }],
  });
  assert.equal(r.choices.length, 1);
});

test('chat completion, streamed with include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: modelId, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0,
    logit_bias: EOS_BAN, stream: true, stream_options: { include_usage: true },
  });
  let text = '', first = true, finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    chunks++;
    if (chunk.usage) { usage = chunk.usage; assert.equal(chunk.choices.length, 0); continue; }
    const c = chunk.choices[0];
    if (first) { assert.equal(c.delta.role, 'assistant'); first = false; }
    if (c.delta.content) text += c.delta.content;
    if (c.finish_reason) { assert.equal(finish, null); finish = c.finish_reason; }
  }
  assert.ok(chunks > 3);
  assert.equal(finish, 'length');
  checkUsage(usage, 24);
  assert.ok(!text.includes('\ufffd'));
  // the same request not streamed gives the same text
  const r = await client.chat.completions.create({
    model: modelId, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 24, temperature: 0,
    logit_bias: EOS_BAN,
  });
  assert.equal(r.choices[0].message.content, text);
});

test('completions, streamed and not', async () => {
  const r = await client.completions.create({ model: modelId, prompt: 'Once upon a time', max_tokens: 16,
    temperature: 0, logit_bias: EOS_BAN });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  checkUsage(r.usage, 16);
  const stream = await client.completions.create({ model: modelId, prompt: 'Once upon a time', max_tokens: 16,
    temperature: 0, logit_bias: EOS_BAN, stream: true, stream_options: { include_usage: true } });
  let text = '', usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    else text += chunk.choices[0].text;
  }
  assert.equal(text, r.choices[0].text);
  checkUsage(usage, 16);
  const multi = await client.completions.create({ model: modelId, prompt: ['Once', 'The dog'], max_tokens: 4,
    temperature: 0 });
  assert.equal(multi.choices.length, 2);
  assert.deepEqual(multi.choices.map((c) => c.index), [0, 1]);
  const toks = await client.completions.create({ model: modelId, prompt: [1, 403, 407], max_tokens: 4,
    temperature: 0 });
  assert.equal(toks.usage.prompt_tokens, 3);
});

test('n = 2 gives two choices', async () => {
  const r = await client.chat.completions.create({
    model: modelId, messages: [{ role: 'user', content: 'Once upon a time' }], max_tokens: 8, n: 2,
    temperature: 1, seed: 5, logit_bias: EOS_BAN,
  });
  assert.equal(r.choices.length, 2);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  assert.equal(r.usage.completion_tokens, 16);
  const stream = await client.chat.completions.create({
    model: modelId, messages: [{ role: 'user', content: 'Once' }], max_tokens: 5, n: 2, stream: true,
    logit_bias: EOS_BAN,
  });
  const finishes = new Set();
  for await (const chunk of stream) for (const c of chunk.choices) if (c.finish_reason) finishes.add(c.index);
  assert.deepEqual([...finishes].sort(), [0, 1]);
});

test('stop strings cut the text and finish with stop', async () => {
  const base = await client.completions.create({ model: modelId, prompt: 'Once upon a time', max_tokens: 40,
    temperature: 0, logit_bias: EOS_BAN });
  const text = base.choices[0].text;
  const words = text.split(' ').filter((w) => w.length >= 3);
  assert.ok(words.length > 2, text);
  const stop = words[2];
  const r = await client.completions.create({ model: modelId, prompt: 'Once upon a time', max_tokens: 40,
    temperature: 0, logit_bias: EOS_BAN, stop: [stop, 'zzzz'] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.choices[0].text, text.slice(0, text.indexOf(stop)));
  const s = await client.chat.completions.create({ model: modelId, messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 40, temperature: 0, logit_bias: EOS_BAN, stop: 'e', stream: true });
  let streamed = '', fin = null;
  for await (const chunk of s) {
    const c = chunk.choices[0];
    if (c?.delta?.content) streamed += c.delta.content;
    if (c?.finish_reason) fin = c.finish_reason;
  }
  assert.ok(!streamed.includes('e'), streamed);
  assert.equal(fin, 'stop');
});

test('seed makes sampling reproducible', async () => {
  const ask = (seed) => client.chat.completions.create({ model: modelId, messages: [{ role: 'user', content: 'Once' }],
    max_tokens: 24, temperature: 1, seed, logit_bias: EOS_BAN }).then((r) => r.choices[0].message.content);
  const a = await ask(1234), b = await ask(1234);
  assert.equal(a, b);
  const others = await Promise.all([ask(1), ask(2), ask(3)]);
  assert.ok(others.some((o) => o !== a), 'different seeds all gave the same text');
});

test('logprobs: chat and completions', async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: [{ role: 'user', content: 'Once' }],
    max_tokens: 6, temperature: 0, logprobs: true, top_logprobs: 3, logit_bias: EOS_BAN });
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 6);
  for (const e of content) {
    assert.equal(typeof e.token, 'string');
    assert.ok(e.logprob <= 0);
    assert.ok(Array.isArray(e.bytes));
    assert.equal(e.top_logprobs.length, 3);
    assert.equal(e.top_logprobs[0].token, e.token); // greedy: the chosen one is the most likely
  }
  const c = await client.completions.create({ model: modelId, prompt: 'Once', max_tokens: 5, temperature: 0,
    logprobs: 2, logit_bias: EOS_BAN });
  const lp = c.choices[0].logprobs;
  assert.equal(lp.tokens.length, 5);
  assert.equal(lp.token_logprobs.length, 5);
  assert.equal(lp.text_offset.length, 5);
  assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
});

test('a repeated prompt reuses cached prefix pages', async () => {
  const long = 'Once upon a time there was a little girl named Lily. She loved to play outside in the sun. '.repeat(4);
  const ask = () => client.completions.create({ model: modelId, prompt: long, max_tokens: 2, temperature: 0 });
  await ask();
  const r = await ask();
  assert.ok(r.usage.prompt_tokens_details.cached_tokens > 0, JSON.stringify(r.usage));
  assert.equal(r.timings.cache_n, r.usage.prompt_tokens_details.cached_tokens);
});

test('bad input surfaces as SDK errors with status and param', async () => {
  await assert.rejects(client.chat.completions.create({ model: modelId, messages: [{ role: 'user', content: 'x' }],
    temperature: 'hot' }), (e) => e.status === 400 && e.param === 'temperature' && e.type === 'invalid_request_error');
  await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(client.completions.create({ model: modelId, prompt: 'x', max_tokens: 100000 }),
    (e) => e.status === 400 && e.param === 'max_tokens');
});

test('several models in one server, chosen by `model`', async () => {
  const second = MODEL.replace(/stories260K\.gguf$/, 'llama-2-tiny-random.gguf');
  if (!existsSync(second)) return;
  const s2 = await startServer(['-m', second]);
  try {
    const c2 = new OpenAI({ apiKey: 'unused', baseURL: `${s2.url}/v1`, maxRetries: 0 });
    const ids = (await c2.models.list()).data.map((m) => m.id);
    assert.deepEqual(ids, ['stories260K', 'llama-2-tiny-random']);
    const a = await c2.completions.create({ prompt: 'Once', max_tokens: 2 });
    assert.equal(a.model, 'stories260K'); // the first is the default
    const b = await c2.completions.create({ model: 'llama-2-tiny-random', prompt: 'Once', max_tokens: 2 });
    assert.equal(b.model, 'llama-2-tiny-random');
  } finally {
    await s2.stop();
  }
});
