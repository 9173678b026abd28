/** The system: services, broker figures, Titanic, versions, and API tokens. */
import { del, get, post, seg } from '../api.js';
import { h, uniqueId } from '../dom.js';
import { formatDuration, formatFullTime, formatTime, relativeTime } from '../format.js';
import { busy, confirmDialog, copyText, errorPanel, loading, note, pageHeader, toast } from '../components/ui.js';

export async function systemView({ root, scope }) {
  document.title = 'System · RasPy';
  const refresh = h('button', { type: 'button', class: 'btn btn--ghost btn--small' }, '↻ Refresh');
  const updated = h('span', { class: 'hint' });
  const body = h('div', { class: 'panels' }, loading('Loading the system…'));
  const tokens = h('div', { class: 'after-panels' });
  root.append(pageHeader('System', { actions: [updated, refresh] }), body, tokens);

  const load = async () => {
    let sys;
    try {
      sys = await get('/api/system', { signal: scope.signal });
    } catch (err) {
      if (err.name === 'AbortError') return;
      body.replaceChildren(errorPanel(`The system could not be read: ${err.message}`, load));
      return;
    }
    body.replaceChildren(brokerPanel(sys.broker, sys.services ?? []), titanicPanel(sys.titanic), versionsPanel(sys.versions ?? {}));
    updated.textContent = `Updated ${formatTime(Date.now())}`;
  };
  refresh.addEventListener('click', () => busy(refresh, load));
  scope.every(10_000, () => document.visibilityState === 'visible' && load());
  tokens.append(tokensPanel(scope));
  await load();
}

function table(headers, rows, { numeric = [], caption } = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'table' },
      caption ? h('caption', { class: 'visually-hidden' }, caption) : null,
      h('thead', null, h('tr', null, headers.map((t, i) => h('th', { scope: 'col', class: numeric.includes(i) ? 'num' : null }, t)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', { class: numeric.includes(i) ? 'num' : null }, c)))))),
    ),
  );
}

function brokerPanel(broker, services) {
  const stat = (t, v) => h('div', null, h('dt', null, t), h('dd', null, v));
  if (!broker) {
    return h('section', { class: 'panel' }, h('h2', { class: 'panel__title' }, 'Broker'), errorPanel('The broker did not answer.'), servicesList(services));
  }
  const per = broker.services ?? {};
  const names = [...new Set([...Object.keys(per), ...services])].sort();
  const rows = names.map((n) => {
    const s = per[n] ?? {};
    const num = (v) => (typeof v === 'number' ? String(v) : '—');
    const workers = typeof s.workers === 'number' ? h('span', { title: typeof s.idle === 'number' ? `${s.idle} idle` : '' }, String(s.workers)) : '—';
    const row = [h('code', null, n), workers, num(s.queued), num(s.requests), num(s.replies), num(s.errors)];
    return row;
  });
  return h(
    'section',
    { class: 'panel panel--wide', 'data-testid': 'broker' },
    h('h2', { class: 'panel__title' }, 'Broker'),
    h(
      'dl',
      { class: 'stats stats--inline' },
      stat('Uptime', h('span', { title: broker.startedAt ? `since ${formatFullTime(broker.startedAt)}` : '' }, formatDuration(broker.uptime))),
      stat('Workers', String(broker.workers ?? '—')),
      stat('Queued', String(broker.queued ?? '—')),
      stat('Active', String(broker.active ?? '—')),
      stat('Dropped', String(broker.dropped ?? '—')),
    ),
    h('h3', { class: 'panel__section' }, `Services (${names.length})`),
    names.length ? table(['Service', 'Workers', 'Queued', 'Requests', 'Replies', 'Errors'], rows, { numeric: [1, 2, 3, 4, 5], caption: 'Services of the broker' }) : note('No service is registered.'),
  );
}

function servicesList(services) {
  if (!services.length) return null;
  return h('ul', { class: 'chips' }, services.map((s) => h('li', null, h('code', null, s))));
}

function titanicPanel(titanic) {
  const stat = (t, v) => h('div', null, h('dt', null, t), h('dd', null, String(v ?? '—')));
  return h(
    'section',
    { class: 'panel', 'data-testid': 'titanic' },
    h('h2', { class: 'panel__title' }, 'Titanic'),
    h('p', { class: 'panel__subtitle' }, 'Requests kept on disk until a service answers them.'),
    titanic
      ? h('dl', { class: 'stats stats--inline' }, stat('Open', titanic.open), stat('Pending', titanic.pending), stat('Executed', titanic.executed), stat('Retried', titanic.retried), stat('Syncs', titanic.syncs))
      : note('Titanic is not running.'),
  );
}

function versionsPanel(versions) {
  const entries = Object.entries(versions).sort(([a], [b]) => (a === 'raspy-web' ? -1 : b === 'raspy-web' ? 1 : a.localeCompare(b)));
  return h(
    'section',
    { class: 'panel', 'data-testid': 'versions' },
    h('h2', { class: 'panel__title' }, 'Versions'),
    entries.length ? table(['Component', 'Version'], entries.map(([k, v]) => [k, h('code', null, String(v))]), { caption: 'Versions' }) : note('Unknown.'),
  );
}

// -------------------------------------------------------------------- tokens

function tokensPanel(scope) {
  const list = h('div', null, loading('Loading the tokens…'));
  const shown = h('div');
  const nameId = uniqueId('token-name');
  const nameInput = h('input', { id: nameId, type: 'text', required: true, maxlength: 64, placeholder: 'e.g. backup script', autocomplete: 'off', 'data-testid': 'token-name' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'token-error' });
  const create = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'token-create' }, 'Create a token');
  const form = h('form', { class: 'form form--row', novalidate: true }, h('div', { class: 'field' }, h('label', { for: nameId }, 'Name'), nameInput), create);

  const load = async () => {
    let items;
    try {
      items = await get('/api/tokens', { signal: scope.signal });
    } catch (err) {
      if (err.name === 'AbortError') return;
      list.replaceChildren(errorPanel(`The tokens could not be loaded: ${err.message}`, load));
      return;
    }
    const tokens = Array.isArray(items) ? items : items?.tokens ?? [];
    if (!tokens.length) {
      list.replaceChildren(note('No API tokens.'));
      return;
    }
    list.replaceChildren(
      h(
        'ul',
        { class: 'token-list', role: 'list' },
        tokens.map((t) => {
          const revoke = h('button', { type: 'button', class: 'btn btn--small btn--danger-ghost', 'data-testid': 'token-revoke' }, 'Revoke');
          revoke.addEventListener('click', async () => {
            if (!(await confirmDialog(`Revoke the token “${t.name}”? Scripts using it will be refused.`, { ok: 'Revoke', danger: true }))) return;
            try {
              await del(`/api/tokens/${seg(t.id)}`);
              toast(`Token “${t.name}” revoked.`, 'ok');
              load();
            } catch (err) {
              toast(err.message, 'bad', 6000);
            }
          });
          return h(
            'li',
            { class: 'token', 'data-testid': 'token-row', dataset: { id: t.id } },
            h(
              'div',
              { class: 'token__main' },
              h('strong', null, t.name),
              h('span', { class: 'hint' }, ` created ${t.createdAt ? formatTime(t.createdAt) : '—'}, `, t.lastUsed ? h('span', { title: formatFullTime(t.lastUsed) }, `last used ${relativeTime(t.lastUsed)}`) : 'never used'),
            ),
            revoke,
          );
        }),
      ),
    );
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const name = nameInput.value.trim();
    if (!name) {
      error.textContent = 'Give the token a name (what will use it).';
      error.hidden = false;
      nameInput.focus();
      return;
    }
    create.disabled = true;
    try {
      const res = await post('/api/tokens', { name });
      nameInput.value = '';
      shown.replaceChildren(tokenOnce(res, () => shown.replaceChildren()));
      shown.querySelector('input')?.select();
      load();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      create.disabled = false;
    }
  });

  load();
  return h(
    'section',
    { class: 'panel', 'data-testid': 'tokens', 'aria-labelledby': 'tokens-title' },
    h('h2', { class: 'panel__title', id: 'tokens-title' }, 'API tokens'),
    h('p', { class: 'panel__subtitle' }, 'For scripts: send Authorization: Bearer <token>. A token is shown once, when it is created.'),
    form,
    error,
    shown,
    list,
  );
}

/** The new token, shown this once, with a copy button. */
function tokenOnce(res, onDismiss) {
  const id = uniqueId('token-value');
  const input = h('input', { id, type: 'text', readOnly: true, value: res.token ?? '', class: 'mono', 'data-testid': 'token-value', spellcheck: 'false' });
  const copy = h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'token-copy' }, 'Copy');
  const status = h('span', { class: 'hint', role: 'status' });
  copy.addEventListener('click', async () => {
    status.textContent = (await copyText(input.value, input)) ? 'Copied.' : 'Select it and copy it by hand.';
  });
  return h(
    'div',
    { class: 'notice notice--ok token-once' },
    h('p', null, h('strong', null, `Token “${res.name}” created.`), ' Copy it now: it will not be shown again.'),
    h('div', { class: 'copy-row' }, h('label', { for: id, class: 'visually-hidden' }, 'The new token'), input, copy),
    status,
    h('button', { type: 'button', class: 'btn btn--small btn--ghost', on: { click: onDismiss } }, 'Done'),
  );
}
