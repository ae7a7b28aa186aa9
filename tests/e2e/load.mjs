#!/usr/bin/env node
// Load driver for `solebox serve`: N concurrent streaming clients for S
// seconds, each validating every stream it reads (JSON chunks, role first,
// one finish_reason per choice, a usage chunk, [DONE] last) and timing the
// gaps between content chunks.
//
//   node load.mjs --url http://127.0.0.1:8080 --clients 32 --seconds 60
//   node load.mjs --bin build/solebox --model m.gguf --clients 32 --seconds 60   (starts the server)
//   node load.mjs --bin build/solebox --synthetic tinyllama-1.1b:q8_0 --vocab v.gguf --compare 1,8 --rounds 3 --seconds 30
//
// Prints one JSON line per run (requests, errors, incomplete, tokens,
// tokens_per_s, itl_p50_ms, itl_p99_ms, ttft_p50_ms) and, with --compare,
// the ratio of the aggregate tokens/s. Exits 1 if any request failed or
// any stream was malformed.
import { startServerWith } from './lib/server.mjs';

function parseArgs(argv) {
  const o = { clients: 32, seconds: 60, maxTokens: [32, 256], ban: 2, extra: [], rounds: 1 };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    switch (a) {
      case '--url': o.url = v; i++; break;
      case '--bin': o.bin = v; i++; break;
      case '--model': o.model = v; i++; break;
      case '--synthetic': o.synthetic = v; i++; break;
      case '--vocab': o.vocab = v; i++; break;
      case '--clients': o.clients = Number(v); i++; break;
      case '--seconds': o.seconds = Number(v); i++; break;
      case '--max-tokens': o.maxTokens = v.split(',').map(Number); if (o.maxTokens.length === 1) o.maxTokens.push(o.maxTokens[0]); i++; break;
      case '--ban-token': o.ban = Number(v); i++; break;
      case '--compare': o.compare = v.split(',').map(Number); i++; break;
      case '--rounds': o.rounds = Number(v); i++; break;
      case '--serve-arg': o.extra.push(v); i++; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  return o;
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

// One streamed request, validated. Returns {ok, why, tokens, gaps, ttft}.
async function oneRequest(url, model, maxTokens, ban) {
  const body = { messages: [{ role: 'user', content: 'Tell me a story about a dog.' }], max_tokens: maxTokens,
    temperature: 0.8, stream: true, stream_options: { include_usage: true } };
  if (model) body.model = model;
  if (ban >= 0) body.logit_bias = { [ban]: -100 };
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body) });
  if (r.status !== 200) return { ok: false, why: `status ${r.status}: ${(await r.text()).slice(0, 200)}` };
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = '', first = true, finishes = 0, usage = null, done = false, last = null, ttft = NaN;
  const gaps = [];
  for (;;) {
    const { value, done: eof } = await reader.read();
    if (eof) break;
    const now = performance.now();
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!block.startsWith('data: ')) return { ok: false, why: `bad block ${block.slice(0, 80)}` };
      const payload = block.slice(6);
      if (done) return { ok: false, why: 'data after [DONE]' };
      if (payload === '[DONE]') { done = true; continue; }
      let j;
      try { j = JSON.parse(payload); } catch { return { ok: false, why: `bad JSON ${payload.slice(0, 80)}` }; }
      if (j.error) return { ok: false, why: `stream error ${j.error.message}` };
      if (j.usage) { usage = j.usage; continue; }
      const c = j.choices[0];
      if (first) { if (c.delta.role !== 'assistant') return { ok: false, why: 'no role first' }; first = false; }
      if (c.delta.content) {
        if (last === null) ttft = now - t0; else gaps.push(now - last);
        last = now;
      }
      if (c.finish_reason) finishes++;
    }
  }
  if (!done) return { ok: false, why: 'no [DONE]' };
  if (finishes !== 1) return { ok: false, why: `${finishes} finish reasons` };
  if (!usage) return { ok: false, why: 'no usage chunk' };
  return { ok: true, tokens: usage.completion_tokens, gaps, ttft };
}

// N clients for S seconds against url.
async function run(url, model, clients, seconds, range, ban) {
  const deadline = performance.now() + seconds * 1000;
  const st = { requests: 0, errors: 0, tokens: 0, gaps: [], ttfts: [], whys: {} };
  const t0 = performance.now();
  const client = async () => {
    while (performance.now() < deadline) {
      const mt = range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));
      let res;
      try { res = await oneRequest(url, model, mt, ban); } catch (e) { res = { ok: false, why: String(e) }; }
      st.requests++;
      if (!res.ok) { st.errors++; st.whys[res.why] = (st.whys[res.why] || 0) + 1; continue; }
      st.tokens += res.tokens;
      for (const g of res.gaps) st.gaps.push(g);
      if (!Number.isNaN(res.ttft)) st.ttfts.push(res.ttft);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const wall = (performance.now() - t0) / 1000;
  return { clients, seconds: Number(wall.toFixed(1)), requests: st.requests, errors: st.errors, tokens: st.tokens,
    tokens_per_s: Number((st.tokens / wall).toFixed(1)), itl_p50_ms: Number(pct(st.gaps, 0.5).toFixed(2)),
    itl_p99_ms: Number(pct(st.gaps, 0.99).toFixed(2)), ttft_p50_ms: Number(pct(st.ttfts, 0.5).toFixed(1)),
    ttft_p99_ms: Number(pct(st.ttfts, 0.99).toFixed(1)), failures: st.whys };
}

const o = parseArgs(process.argv);
let srv = null, url = o.url;
if (!url) {
  const args = o.synthetic ? ['--synthetic', o.synthetic, '--vocab', o.vocab] : ['-m', o.model];
  srv = await startServerWith(o.bin, [...args, ...o.extra]);
  url = srv.url;
}
const modelId = (await (await fetch(`${url}/v1/models`)).json()).data[0].id;
let failed = false;
try {
  // With --compare A,B and --rounds K the two runs alternate K times, so
  // that both see the same background load; the median ratio is printed.
  const counts = o.compare ?? [o.clients];
  const ratios = [];
  for (let round = 0; round < (o.compare ? o.rounds : 1); round++) {
    const results = [];
    for (const n of counts) {
      const r = await run(url, modelId, n, o.seconds, o.maxTokens, o.ban);
      results.push(r);
      console.log(JSON.stringify({ round, ...r }));
      if (r.errors) failed = true;
    }
    if (o.compare && results.length === 2) ratios.push(results[1].tokens_per_s / results[0].tokens_per_s);
  }
  if (ratios.length)
    console.log(JSON.stringify({ ratio_median: Number(pct(ratios, 0.5).toFixed(2)),
      ratios: ratios.map((r) => Number(r.toFixed(2))), of: `${counts[1]} vs ${counts[0]} streams` }));
} finally {
  if (srv) await srv.stop();
}
process.exit(failed ? 1 : 0);
