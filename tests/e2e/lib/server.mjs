// Starting and stopping `solebox serve` for the end-to-end tests.
//
// The binary, the model and the shared directory come from the environment
// (run.sh sets them): SOLEBOX_BIN, SOLEBOX_MODEL. The server listens on a
// free loopback port (--port 0); the port is read from its log line.
import { spawn, execFile } from 'node:child_process';

export const BIN = process.env.SOLEBOX_BIN;
export const MODEL = process.env.SOLEBOX_MODEL;

// Starts the test server (SOLEBOX_BIN with SOLEBOX_MODEL, 2 threads) with
// extra arguments; resolves once /health is 200.
export function startServer(extra = [], { model = MODEL, waitHealthy = true } = {}) {
  return startServerWith(BIN, ['-t', '2', ...(model ? ['-m', model] : []), ...extra], { waitHealthy });
}

// Starts `bin serve --port 0 args...`; resolves once /health is 200 (unless
// waitHealthy is false) with {url, port, proc, exited, log, stop}.
export async function startServerWith(bin, extra, { waitHealthy = true } = {}) {
  const args = ['serve', '--port', '0', ...extra];
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 20 s:\n${log}`)), 20000);
    proc.stderr.on('data', (d) => {
      log += d.toString();
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => reject(new Error(`solebox serve exited with ${code}:\n${log}`)));
  });
  proc.stderr.on('data', (d) => { log += d.toString(); });
  const url = `http://127.0.0.1:${port}`;
  if (waitHealthy) {
    const t0 = Date.now();
    for (;;) {
      const r = await fetch(`${url}/health`).catch(() => null);
      if (r && r.status === 200) break;
      if (Date.now() - t0 > 120000) throw new Error(`not healthy after 120 s:\n${log}`);
      await sleep(50);
    }
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    port,
    proc,
    exited,
    log: () => log,
    // SIGTERM, then SIGKILL if it does not exit in 10 s.
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Runs curl with arguments; resolves {status, body, headers} (status from -w).
export function curl(args) {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-s', '-S', '-D', '-', '-w', '\n%{http_code}', ...args], { maxBuffer: 64 << 20 },
      (err, stdout) => {
        if (err) return reject(err);
        const lines = stdout.split('\n');
        const status = Number(lines.pop());
        const text = lines.join('\n');
        const sep = text.indexOf('\r\n\r\n');
        resolve({ status, headers: text.slice(0, sep), body: text.slice(sep + 4) });
      });
  });
}

// Parses an SSE body into its data payloads; checks the framing.
export function parseSSE(body) {
  const events = [];
  let done = false;
  for (const block of body.split('\n\n')) {
    if (block === '') continue;
    if (!block.startsWith('data: ')) throw new Error(`bad SSE block: ${JSON.stringify(block)}`);
    const payload = block.slice(6);
    if (payload === '[DONE]') { done = true; continue; }
    if (done) throw new Error('data after [DONE]');
    events.push(JSON.parse(payload));
  }
  return { events, done };
}

// The value of a model's gauge in a /metrics text (NaN when absent).
function gaugeIn(text, name, model) {
  const re = new RegExp(`^${name}\\{model="${model}"\\} (\\S+)$`, 'm');
  const m = text.match(re);
  return m ? Number(m[1]) : NaN;
}

// Polls /metrics every 5 ms until each gauge in wants ({ name: value }) reads its value in one scrape; returns the
// milliseconds that took, or Infinity after limitMs.
export async function waitGauges(url, wants, limitMs = 3000, model = 'stories260K') {
  const t0 = performance.now();
  for (;;) {
    const text = await (await fetch(`${url}/metrics`)).text();
    if (Object.entries(wants).every(([name, want]) => gaugeIn(text, name, model) === want)) {
      return performance.now() - t0;
    }
    if (performance.now() - t0 > limitMs) return Infinity;
    await sleep(5);
  }
}
