// api.js - every request the page makes, all to this server (same origin;
// the Content-Security-Policy's connect-src 'self' enforces it).

import { readEvents } from './sse.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The message of an error body ({"error":{"message"}}) or the status text.
async function errorOf(r) {
  let msg = `${r.status} ${r.statusText}`;
  try {
    const j = await r.json();
    if (j && j.error && j.error.message) msg = j.error.message;
  } catch {
    // not JSON
  }
  return new ApiError(r.status, msg);
}

// A JSON request; resolves with the parsed body, rejects with ApiError.
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = { method, signal, headers: {} };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the server cannot be reached (is solebox serve running?)');
  }
  if (!r.ok) throw await errorOf(r);
  return r.json();
}

export const chats = {
  list: (cursor, limit = 50) => api(`/api/chats?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
  create: (body) => api('/api/chats', { method: 'POST', body }),
  get: (id) => api(`/api/chats/${id}`),
  update: (id, patch) => api(`/api/chats/${id}`, { method: 'PATCH', body: patch }),
  remove: (id) => api(`/api/chats/${id}`, { method: 'DELETE' }),
  messages: (id, before, limit = 50) =>
    api(`/api/chats/${id}/messages?limit=${limit}${before !== undefined ? `&before=${before}` : ''}`),
  append: (id, msg) => api(`/api/chats/${id}/messages`, { method: 'POST', body: msg }),
  truncate: (id, from) => api(`/api/chats/${id}/messages?from=${from}`, { method: 'DELETE' }),
  search: (q, limit = 50) => api(`/api/search?q=${encodeURIComponent(q)}&limit=${limit}`),
  importDoc: (text) => api('/api/import', { method: 'POST', body: text }),
};

export const models = {
  list: () => api('/api/models'),
  calibrate: (id) => api(`/api/models/${encodeURIComponent(id)}/calibrate`, { method: 'POST', body: {} }),
};

export const defaults = {
  get: () => api('/api/defaults'),
  set: (s) => api('/api/defaults', { method: 'PUT', body: s }),
};

export const usage = (days = 30) =>
  api(`/api/usage?days=${days}&tz_offset_min=${-new Date().getTimezoneOffset()}`);

// Streams a chat completion. onDelta(text) for each piece of the reply;
// resolves with {finish, usage, timings} or rejects with ApiError (HTTP or
// in-stream error) or an AbortError when signal aborts.
export async function streamChat(body, { signal, onDelta }) {
  let r;
  try {
    r = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify(body),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the server cannot be reached (is solebox serve running?)');
  }
  if (!r.ok) throw await errorOf(r);
  const result = { finish: null, usage: null, timings: null };
  let done = false;
  for await (const data of readEvents(r)) {
    if (data === '[DONE]') {
      done = true;
      break;
    }
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ApiError(502, 'the server sent a malformed event');
    }
    if (chunk.error) throw new ApiError(chunk.error.code === 'cancelled' ? 503 : 500, chunk.error.message || 'error');
    if (chunk.usage) result.usage = chunk.usage;
    if (chunk.timings) result.timings = chunk.timings;
    for (const c of chunk.choices || []) {
      if (c.delta && typeof c.delta.content === 'string' && c.delta.content) onDelta(c.delta.content);
      if (c.finish_reason) result.finish = c.finish_reason;
    }
  }
  if (!done) throw new ApiError(502, 'the reply ended early (connection lost)');
  return result;
}
