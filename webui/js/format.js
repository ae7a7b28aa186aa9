// format.js - numbers, sizes and durations as the page shows them.

export function formatCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (n < 1000) return String(n);
  const units = [['T', 1e12], ['B', 1e9], ['M', 1e6], ['K', 1e3]];
  for (const [u, v] of units) {
    if (n >= v) return `${(n / v).toFixed(n / v < 10 ? 1 : 0)}${u}`;
  }
  return String(n);
}

export function formatBytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

export function formatRate(r) {
  if (r === null || r === undefined || !Number.isFinite(r)) return '–';
  return `${r >= 100 ? Math.round(r) : r.toFixed(1)} tok/s`;
}

export function formatTokens(n) {
  return n === null || n === undefined ? '–' : n.toLocaleString('en-US');
}

// "today 14:05", "yesterday", or a date: for the history list.
export function formatWhen(ms, now = Date.now()) {
  const d = new Date(ms);
  const today = new Date(now);
  const sameDay = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate();
  if (sameDay(d, today)) return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const y = new Date(now - 86400000);
  if (sameDay(d, y)) return 'yesterday';
  return d.toLocaleDateString([], { year: d.getFullYear() === today.getFullYear() ? undefined : 'numeric',
    month: 'short', day: 'numeric' });
}

// The one-line usage summary under a reply.
export function usageLine(u) {
  if (!u) return '';
  const parts = [];
  if (u.prompt_tokens !== undefined) parts.push(`${formatTokens(u.prompt_tokens)} prompt`);
  if (u.completion_tokens !== undefined) parts.push(`${formatTokens(u.completion_tokens)} completion tokens`);
  if (u.ttft_ms !== undefined) parts.push(`first token ${formatMs(u.ttft_ms)}`);
  if (u.tokens_per_s !== undefined) parts.push(formatRate(u.tokens_per_s));
  return parts.join(' · ');
}
