// usage.js - the token usage dialog: totals per day (the person's own
// days) and overall.

import { usage } from './api.js';
import { clear, h } from './dom.js';
import { formatTokens } from './format.js';

export async function showUsage(dialog) {
  const body = dialog.querySelector('#usage-body');
  clear(body);
  body.appendChild(h('p', { class: 'muted' }, 'Loading…'));
  if (!dialog.open) dialog.showModal();
  let r;
  try {
    r = await usage(30);
  } catch (e) {
    clear(body);
    body.appendChild(h('p', { class: 'form-error' }, `Cannot read the usage: ${e.message}`));
    return;
  }
  clear(body);
  const t = r.total || {};
  body.appendChild(h('p', {}, `All time: ${formatTokens(t.replies || 0)} replies, ` +
    `${formatTokens(t.prompt_tokens || 0)} prompt and ${formatTokens(t.completion_tokens || 0)} completion tokens.`));
  if (!r.days.length) {
    body.appendChild(h('p', { class: 'muted' }, 'No replies in the last 30 days.'));
    return;
  }
  body.appendChild(h('table', { class: 'usage-table' },
    h('caption', { class: 'muted small' }, 'The last 30 days (days with replies)'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Day'), h('th', { scope: 'col' }, 'Replies'),
      h('th', { scope: 'col' }, 'Prompt tokens'), h('th', { scope: 'col' }, 'Completion tokens'))),
    h('tbody', {}, r.days.map((d) => h('tr', {}, h('th', { scope: 'row' }, d.day), h('td', {}, formatTokens(d.replies)),
      h('td', {}, formatTokens(d.prompt_tokens)), h('td', {}, formatTokens(d.completion_tokens)))))));
}
