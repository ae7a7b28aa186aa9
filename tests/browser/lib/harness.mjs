// harness.mjs - what the browser tests need around the page: a running
// `solebox serve` (free loopback port, temporary data directory), a
// headless Debian chromium through playwright-core, a log of every request
// the page makes, and screenshots.
//
// Environment (run.sh sets it): SOLEBOX_BIN, SOLEBOX_MODEL, CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT_DIR.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BIN = process.env.SOLEBOX_BIN;
export const MODEL = process.env.SOLEBOX_MODEL;
export const SHOTS = process.env.SCREENSHOT_DIR || join(process.cwd(), 'screenshots');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts solebox serve with the model under two ids (the second through a
// symbolic link in the temporary directory, so the picker has a choice).
export async function startServer() {
  const tmp = mkdtempSync(join(tmpdir(), 'solebox-webui-'));
  const second = join(tmp, 'stories260K-b.gguf');
  symlinkSync(MODEL, second);
  const dataDir = join(tmp, 'data');
  const args = ['serve', '--port', '0', '-t', '2', '--data-dir', dataDir, '-m', MODEL, '-m', second];
  const proc = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => {
    log += d.toString();
  });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line in 20 s:\n${log}`)), 20000);
    const check = () => {
      const m = log.match(/listening on http:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', check);
    proc.on('exit', (code) => reject(new Error(`solebox serve exited with ${code}:\n${log}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  for (const t0 = Date.now(); ;) {
    const r = await fetch(`${url}/health`).catch(() => null);
    if (r && r.status === 200) break;
    if (/cannot load/.test(log) || Date.now() - t0 > 60000) {
      proc.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`the server did not become ready:\n${log}`);
    }
    await sleep(50);
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    port,
    dataDir,
    log: () => log,
    // SIGTERM (SIGKILL after 10 s); resolves with how it exited.
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmp, { recursive: true, force: true });
      return exited;
    },
  };
}

// A transparent relay on loopback in front of solebox serve, through which
// the page is loaded. It passes every request and answer through as they
// are (headers included) and can pace a streamed reply: with pace(ms) set,
// each SSE event is held ms after the previous one, so a test can watch a
// reply grow and stop it midway whatever the model's speed. (Chrome's own
// network throttling was tried first: in about one run in three it
// delivered a whole stream in one piece.) When the browser drops the
// connection, the relay drops its own to the server, so cancellation
// reaches the server as it would directly.
export async function startRelay(port) {
  const state = { paceMs: 0 };
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode, ur.headers);
        const pace = state.paceMs;
        if (!pace || !/text\/event-stream/.test(ur.headers['content-type'] || '')) {
          ur.pipe(res);
          return;
        }
        ur.setEncoding('utf8');
        let buf = '';
        let ended = false;
        let timer = null;
        const queue = [];
        const pump = () => {
          if (!queue.length) {
            timer = null;
            if (ended) res.end();
            return;
          }
          res.write(queue.shift());
          timer = setTimeout(pump, pace);
        };
        ur.on('data', (d) => {
          buf += d;
          for (let k = buf.indexOf('\n\n'); k >= 0; k = buf.indexOf('\n\n')) {
            queue.push(buf.slice(0, k + 2));
            buf = buf.slice(k + 2);
          }
          if (!timer) pump();
        });
        ur.on('end', () => {
          ended = true;
          if (buf) queue.push(buf);
          if (!timer) pump();
        });
        res.on('close', () => clearTimeout(timer));
      });
    up.on('error', () => res.destroy());
    req.pipe(up);
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    pace(ms) {
      state.paceMs = ms;
    },
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(r);
    }),
  };
}

// A trap for anything the browser sends beyond the box: chromium gets it
// as its proxy, which it uses for every destination except loopback, so a
// request for another host (from the page, a download, or the browser's
// own background services) lands here, is recorded and refused.
export async function startTrap() {
  const seen = [];
  const server = createServer((sock) => {
    let head = '';
    sock.on('data', (d) => {
      head += d.toString('latin1');
      if (head.includes('\r\n')) {
        seen.push(head.slice(0, head.indexOf('\r\n')));
        sock.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, seen, close: () => new Promise((r) => server.close(r)) };
}

// Debian's chromium calls Google on its own even with the flags above
// (seen with chromium 156 through the trap): the autofill server
// (content-autofill.googleapis.com, about any page with form fields), the
// component updater (update.googleapis.com) and account sign-in
// (accounts.google.com). None of it comes from the page; these switches
// turn it off or point it at a dead loopback port, so the trap can demand
// silence. --disable-features replaces playwright's own list (the last
// switch wins), so that list is repeated here.
const QUIET = [
  `--disable-features=${[
    'AutofillServerCommunication', 'OptimizationHints', 'NetworkTimeServiceQuerying', 'AimEnabled',
    'PreconnectToSearch', 'MediaRouter', 'Translate', 'LensOverlay', 'AvoidUnnecessaryBeforeUnloadCheckSync',
    'DestroyProfileOnBrowserClose', 'HttpsUpgrades', 'HttpsFirstBalancedModeAutoEnable', 'PaintHolding',
    'ThirdPartyStoragePartitioning', 'AvoidCorsURLLoaderRestartOnRedirect',
  ].join(',')}`,
  '--allow-browser-signin=false',
  '--gaia-url=http://127.0.0.1:9/',
  '--component-updater=url-source=http://127.0.0.1:9/',
];

// Launches headless chromium with a fresh profile and the flags that keep
// it from calling home, and records every request of every page.
export async function startBrowser({ trapPort } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'solebox-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...QUIET, ...(trapPort ? [`--proxy-server=http://127.0.0.1:${trapPort}`] : [])],
    viewport: { width: 1280, height: 820 },
    acceptDownloads: true,
  });
  const requests = [];
  const problems = [];
  context.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy|Trusted Type/i.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  };
  context.on('page', watch);
  const page = context.pages()[0] || (await context.newPage());
  watch(page);
  mkdirSync(SHOTS, { recursive: true });
  return {
    context,
    page,
    requests,
    problems,
    async shot(name) {
      await page.screenshot({ path: join(SHOTS, `${name}.png`) });
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// A JSON request straight to the server (not through the page).
export async function api(url, path, { method = 'GET', body } = {}) {
  const r = await fetch(url + path, {
    method,
    headers: body ? { 'Content-Type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}
