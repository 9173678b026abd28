/** The scenarios: list with enable, run and stop; import and export of bundles. */
import { get, post, seg } from '../api.js';
import { h, uniqueId } from '../dom.js';
import { live } from '../live.js';
import { formatFullTime, relativeTime } from '../format.js';
import { badge, busy, download, errorPanel, loading, note, pageHeader, resultBadge, toast } from '../components/ui.js';

export async function scenariosView({ root, scope }) {
  document.title = 'Scenarios · RasPy';
  const exportButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'scenarios-export' }, '⇩ Export');
  const header = pageHeader('Scenarios', {
    subtitle: 'Automations of the house: when something happens, if something holds, do something.',
    actions: [
      h('a', { class: 'btn btn--primary', href: '#/scenarios/new', 'data-testid': 'scenario-new' }, '+ New scenario'),
      exportButton,
    ],
  });
  const list = h('div', { class: 'rows' }, loading('Loading the scenarios…'));
  root.append(header, importPanel(() => load()), list);

  /** name → row parts, for live updates. */
  let rows = new Map();
  let reloadTimer = null;

  const load = async () => {
    let scenarios;
    try {
      ({ scenarios } = await get('/api/scenarios', { signal: scope.signal }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      list.replaceChildren(errorPanel(`The scenarios could not be loaded: ${err.message}`, load));
      return;
    }
    rows = new Map();
    if (!scenarios?.length) {
      list.replaceChildren(note(h('p', null, h('strong', null, 'No scenarios yet. ')), h('p', null, 'Write one with “New scenario”, or import a bundle.')));
      return;
    }
    scenarios.sort((a, b) => a.name.localeCompare(b.name));
    list.replaceChildren(...scenarios.map(row));
  };

  function row(s) {
    const name = s.name;
    const switchId = uniqueId('enabled');
    const enabled = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: switchId, checked: s.enabled !== false, 'data-testid': 'scenario-enabled' });
    const running = h('span', { class: 'badge badge--run', 'data-testid': 'scenario-running' }, 'running');
    const lastBox = h('div', { class: 'row__last' });
    const message = h('p', { class: 'row__message', role: 'status' });
    const run = h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'scenario-run' }, '▶ Run');
    const stop = h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-testid': 'scenario-stop' }, '■ Stop');

    const el = h(
      'article',
      { class: 'row', 'data-testid': 'scenario-row', dataset: { name } },
      h(
        'div',
        { class: 'row__main' },
        h('h2', { class: 'row__title' }, h('a', { href: `#/scenario/${seg(name)}` }, name), ' ', badge(s.mode ?? 'single', 'muted', { title: 'run mode' }), ' ', running),
        s.description ? h('p', { class: 'row__desc' }, s.description) : null,
        lastBox,
        message,
      ),
      h(
        'div',
        { class: 'row__tools' },
        h('span', { class: 'check' }, enabled, h('label', { for: switchId }, 'Enabled')),
        h('div', { class: 'btn-group' }, run, stop),
      ),
    );
    const parts = { el, enabled, running, lastBox, stop, message };
    rows.set(name, parts);
    setStatus(parts, s);

    enabled.addEventListener('change', async () => {
      const want = enabled.checked;
      enabled.disabled = true;
      try {
        await post(`/api/scenarios/${seg(name)}/${want ? 'enable' : 'disable'}`);
        message.textContent = want ? 'Enabled.' : 'Disabled: its triggers are ignored (it can still be run by hand).';
      } catch (err) {
        enabled.checked = !want;
        message.textContent = err.message;
      } finally {
        enabled.disabled = false;
      }
    });
    run.addEventListener('click', () =>
      busy(run, async () => {
        message.textContent = '';
        try {
          const res = await post(`/api/scenarios/${seg(name)}/run`);
          message.textContent = runMessage(res);
        } catch (err) {
          message.textContent = err.message;
        }
      }),
    );
    stop.addEventListener('click', () =>
      busy(stop, async () => {
        try {
          const res = await post(`/api/scenarios/${seg(name)}/stop`);
          message.textContent = res && typeof res.stopped === 'number' ? `Stopped ${res.stopped} run${res.stopped === 1 ? '' : 's'}.` : 'Stopped.';
        } catch (err) {
          message.textContent = err.message;
        }
      }),
    );
    return el;
  }

  function setStatus(parts, s) {
    if (typeof s.enabled === 'boolean' && !parts.enabled.disabled) parts.enabled.checked = s.enabled;
    const n = Number(s.running) || 0;
    const q = Number(s.queued) || 0;
    parts.running.hidden = n === 0;
    parts.running.textContent = q ? `running · ${q} queued` : n > 1 ? `running ×${n}` : 'running';
    parts.stop.disabled = n === 0 && q === 0;
    parts.el.dataset.running = String(n);
    parts.lastBox.replaceChildren(...lastLine(s.last));
  }

  // Live: /scenario/<name>/state carries enabled, running, queued and last.
  scope.onCleanup(
    live.watchPrefix('/scenario/', (key, value) => {
      const m = /^\/scenario\/([^/]+)\/state$/.exec(key);
      if (!m) return;
      const parts = rows.get(m[1]);
      if (parts && value) setStatus(parts, value);
      else {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(load, 400);
      }
    }),
  );
  scope.onCleanup(() => clearTimeout(reloadTimer));
  // Relative times ("5 min ago") age; redraw them now and then.
  scope.every(30_000, () => {
    for (const [name, parts] of rows) {
      const v = live.get(`/scenario/${name}/state`);
      if (v) setStatus(parts, v);
    }
  });

  exportButton.addEventListener('click', () =>
    busy(exportButton, async () => {
      try {
        const { bundle } = await get('/api/scenarios-export');
        const day = new Date().toISOString().slice(0, 10);
        download(`raspy-scenarios-${day}.json`, `${JSON.stringify(bundle, null, 2)}\n`);
        toast(`Exported ${bundle?.scenarios?.length ?? 0} scenarios and ${bundle?.jobs?.length ?? 0} cron jobs.`, 'ok');
      } catch (err) {
        toast(`Export failed: ${err.message}`, 'bad', 6000);
      }
    }),
  );

  await load();
}

/** The last run in one line: result, when, and the reason or the trigger. */
export function lastLine(last) {
  if (!last) return [h('span', { class: 'hint' }, 'Never ran.')];
  return [
    h('span', { class: 'hint' }, 'Last: '),
    resultBadge(last.result, { 'data-testid': 'scenario-last' }),
    ' ',
    h('time', { class: 'hint', title: formatFullTime(last.at) }, relativeTime(last.at)),
    last.reason || last.trigger ? h('span', { class: 'row__reason' }, ` — ${last.reason || last.trigger}`) : '',
  ];
}

/** What a run reply says, for people. */
export function runMessage(res) {
  const t = res && res.trace;
  if (!t) return 'Started.';
  if (t.result === 'running') return 'Started: its run is listed below.';
  if (t.result === 'done') return 'Ran: done.';
  return `${t.result}${t.reason ? `: ${t.reason}` : ''}`;
}

function importPanel(onImported) {
  const textId = uniqueId('bundle');
  const fileId = uniqueId('file');
  const replaceId = uniqueId('replace');
  const text = h('textarea', { id: textId, rows: 8, class: 'mono', spellcheck: 'false', placeholder: '{"format": "raspy-scenarios", "version": 1, "scenarios": [...], "jobs": [...]}', 'data-testid': 'import-text' });
  const file = h('input', { type: 'file', id: fileId, accept: 'application/json,.json' });
  const replace = h('input', { type: 'checkbox', id: replaceId, 'data-testid': 'import-replace' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'import-error' });
  const done = h('p', { class: 'form-ok', role: 'status', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'import-submit' }, 'Import');
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (f) text.value = await f.text();
  });
  const form = h(
    'form',
    { class: 'form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: textId }, 'Bundle (JSON, as exported)'), text),
    h('div', { class: 'field field--inline' }, h('label', { for: fileId }, 'or read it from a file'), file),
    h('div', { class: 'check' }, replace, h('label', { for: replaceId }, 'Replace scenarios and cron jobs that have the same names')),
    error,
    done,
    submit,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    done.hidden = true;
    let bundle;
    try {
      bundle = JSON.parse(text.value);
    } catch (err) {
      error.textContent = `This is not valid JSON: ${err.message}`;
      error.hidden = false;
      return;
    }
    submit.disabled = true;
    try {
      const res = await post('/api/scenarios-import', { bundle, replace: replace.checked });
      const n = res?.scenarios?.length;
      const j = res?.jobs?.length;
      done.textContent = n === undefined ? 'Imported.' : `Imported ${n} scenario${n === 1 ? '' : 's'} and ${j ?? 0} cron job${j === 1 ? '' : 's'}.`;
      done.hidden = false;
      text.value = '';
      onImported();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return h('details', { class: 'panel panel--fold', 'data-testid': 'import' }, h('summary', null, '⇧ Import a bundle'), form);
}
