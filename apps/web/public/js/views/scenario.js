/**
 * One scenario: its JSON in an editor (Save → PUT, or POST for a new one;
 * the validation message under the editor, the text kept), run, stop,
 * enable, delete, and its traces.
 */
import { del, get, post, put, seg } from '../api.js';
import { append, h, uniqueId } from '../dom.js';
import { live } from '../live.js';
import { navigate } from '../router.js';
import { traceView } from '../components/trace.js';
import { badge, busy, confirmDialog, errorPanel, loading, note, pageHeader, toast } from '../components/ui.js';
import { lastLine, runMessage } from './scenarios.js';

const TEMPLATE = {
  name: 'my-scenario',
  description: 'What it does, for people.',
  mode: 'single',
  triggers: [{ type: 'threshold', id: 'cold', key: '/device/pi1/sim/living-temp/temperature', below: 19, for: '1m' }],
  conditions: [{ type: 'time', after: '07:00', before: '22:00' }],
  actions: [
    { type: 'device', device: 'pi1/sim/heater', command: 'power', value: true },
    { type: 'log', message: 'heating: it is cold' },
  ],
};

export async function scenarioView({ root, params, scope, isNew = false }) {
  const name = isNew ? null : params[0];
  document.title = `${isNew ? 'New scenario' : name} · RasPy`;
  const back = { href: '#/scenarios', text: 'Scenarios' };

  let scenario = TEMPLATE;
  let status = null;
  if (!isNew) {
    root.append(loading('Loading the scenario…'));
    try {
      ({ scenario, status } = await get(`/api/scenarios/${seg(name)}`, { signal: scope.signal }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      root.replaceChildren(
        pageHeader(name, { back }),
        err.status === 404
          ? errorPanel(`There is no scenario “${name}”.`)
          : errorPanel(`The scenario could not be loaded: ${err.message}`, () => scenarioView({ root: empty(root), params, scope })),
      );
      return;
    }
    root.replaceChildren();
  }

  // ------------------------------------------------------------- the header
  const message = h('p', { class: 'row__message', role: 'status' });
  const actions = [];
  let statusLine = null;
  if (!isNew) {
    const run = h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'scenario-run' }, '▶ Run');
    const stop = h('button', { type: 'button', class: 'btn', 'data-testid': 'scenario-stop' }, '■ Stop');
    const remove = h('button', { type: 'button', class: 'btn btn--danger-ghost', 'data-testid': 'scenario-delete' }, 'Delete');
    actions.push(run, stop, remove);
    run.addEventListener('click', () =>
      busy(run, async () => {
        try {
          message.textContent = runMessage(await post(`/api/scenarios/${seg(name)}/run`));
          loadTraces();
        } catch (err) {
          message.textContent = err.message;
        }
      }),
    );
    stop.addEventListener('click', () =>
      busy(stop, async () => {
        try {
          const res = await post(`/api/scenarios/${seg(name)}/stop`);
          message.textContent = typeof res?.stopped === 'number' ? `Stopped ${res.stopped} run${res.stopped === 1 ? '' : 's'}.` : 'Stopped.';
        } catch (err) {
          message.textContent = err.message;
        }
      }),
    );
    remove.addEventListener('click', async () => {
      if (!(await confirmDialog(`Delete the scenario “${name}” and its traces?`, { ok: 'Delete', danger: true }))) return;
      try {
        await del(`/api/scenarios/${seg(name)}`);
        toast(`Scenario “${name}” deleted.`, 'ok');
        navigate('/scenarios');
      } catch (err) {
        message.textContent = err.message;
      }
    });

    const switchId = uniqueId('enabled');
    const enabled = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: switchId, checked: status?.enabled ?? scenario.enabled !== false, 'data-testid': 'scenario-enabled' });
    const running = badge('running', 'run', { 'data-testid': 'scenario-running' });
    const last = h('span', { class: 'status-line__last' });
    const setStatus = (s) => {
      if (!s) return;
      if (typeof s.enabled === 'boolean' && !enabled.disabled) enabled.checked = s.enabled;
      const n = Number(s.running) || 0;
      running.hidden = n === 0 && !s.queued;
      running.textContent = s.queued ? `running · ${s.queued} queued` : 'running';
      stop.disabled = n === 0 && !s.queued;
      last.replaceChildren(...lastLine(s.last));
    };
    setStatus({ enabled: scenario.enabled !== false, ...status });
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
    statusLine = h('div', { class: 'status-line' }, h('span', { class: 'check' }, enabled, h('label', { for: switchId }, 'Enabled')), running, last);
    scope.onCleanup(
      live.watchKey(`/scenario/${name}/state`, (_k, v) => {
        setStatus(v);
        scheduleTraces();
      }),
    );
  }

  let header = pageHeader(isNew ? 'New scenario' : name, { back, actions, subtitle: isNew ? 'Write it as JSON; the template below is a thermostat to adapt.' : scenario.description || null });
  append(root, [
    header,
    statusLine,
    message,
  ]);

  // ------------------------------------------------------------- the editor
  const editorId = uniqueId('editor');
  const errorId = `${editorId}-error`;
  const editor = h('textarea', {
    id: editorId,
    class: 'editor mono',
    rows: 18,
    spellcheck: 'false',
    autocapitalize: 'off',
    autocomplete: 'off',
    'data-testid': 'scenario-editor',
    'aria-describedby': errorId,
  });
  editor.value = pretty(scenario);
  let saved = editor.value;
  const error = h('p', { id: errorId, class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'scenario-error' });
  const dirtyNote = h('span', { class: 'hint', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'scenario-save' }, isNew ? 'Create' : 'Save');
  const format = h('button', { type: 'button', class: 'btn btn--ghost' }, 'Format');
  const revert = h('button', { type: 'button', class: 'btn btn--ghost' }, 'Revert');

  const setError = (msg) => {
    error.textContent = msg ?? '';
    error.hidden = !msg;
    if (msg) editor.setAttribute('aria-invalid', 'true');
    else editor.removeAttribute('aria-invalid');
  };
  const updateDirty = () => {
    dirtyNote.textContent = editor.value !== saved ? 'Unsaved changes' : '';
  };
  editor.addEventListener('input', updateDirty);
  editor.addEventListener('keydown', (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') {
      ev.preventDefault();
      form.requestSubmit();
    }
  });
  format.addEventListener('click', () => {
    try {
      editor.value = pretty(JSON.parse(editor.value));
      setError(null);
      updateDirty();
    } catch (err) {
      setError(`Not valid JSON: ${err.message}`);
    }
  });
  revert.addEventListener('click', () => {
    editor.value = saved;
    setError(null);
    updateDirty();
  });

  const form = h(
    'form',
    { class: 'form editor-form', novalidate: true },
    h('label', { for: editorId, class: 'editor-label' }, 'Scenario (JSON)'),
    editor,
    error,
    h('div', { class: 'form-buttons' }, save, format, isNew ? null : revert, dirtyNote),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError(null);
    let value;
    try {
      value = JSON.parse(editor.value);
    } catch (err) {
      setError(`Not valid JSON: ${err.message}`);
      editor.focus();
      return;
    }
    // A new name on an existing scenario is a new scenario (the old one stays).
    const asNew = isNew || (value && typeof value === 'object' && value.name !== name);
    if (!isNew && asNew && typeof value?.name === 'string') {
      const ok = await confirmDialog(`The name changed: save as a new scenario “${value.name}”? (“${name}” stays; delete it afterwards if you want.)`, { ok: 'Save as new' });
      if (!ok) return;
    }
    save.disabled = true;
    try {
      const res = asNew ? await post('/api/scenarios', { scenario: value }) : await put(`/api/scenarios/${seg(name)}`, { scenario: value });
      const stored = res?.scenario ?? value;
      if (asNew) {
        toast(`Scenario “${stored.name}” created.`, 'ok');
        navigate(`/scenario/${encodeURIComponent(stored.name)}`);
        return;
      }
      editor.value = pretty(stored);
      saved = editor.value;
      // The header shows the saved description (the actions move into the new one).
      const fresh = pageHeader(name, { back, actions, subtitle: stored.description || null });
      header.replaceWith(fresh);
      header = fresh;
      updateDirty();
      toast('Saved.', 'ok');
    } catch (err) {
      // The text stays as written, so the mistake can be fixed.
      setError(err.message);
      editor.focus();
    } finally {
      save.disabled = false;
    }
  });

  root.append(h('section', { class: 'panel' }, form, reference()));

  // ------------------------------------------------------------- the traces
  if (isNew) return;
  const traceList = h('div', { class: 'traces' }, loading('Loading the runs…'));
  const refresh = h('button', { type: 'button', class: 'btn btn--small btn--ghost' }, '↻ Refresh');
  root.append(
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'runs-title' },
      h('div', { class: 'panel__head' }, h('h2', { class: 'panel__title', id: 'runs-title' }, 'Runs'), refresh),
      h('p', { class: 'panel__subtitle' }, 'Each time it was triggered: why, what the conditions said, and what each step did.'),
      traceList,
    ),
  );
  let traceTimer = null;
  async function loadTraces() {
    try {
      const { traces } = await get(`/api/scenarios/${seg(name)}/traces?limit=20`, { signal: scope.signal });
      const list = (traces ?? []).slice().sort((a, b) => (b.firedAt ?? 0) - (a.firedAt ?? 0));
      traceList.replaceChildren(...(list.length ? list.map(traceView) : [note('It has not been triggered yet.')]));
    } catch (err) {
      if (err.name === 'AbortError') return;
      traceList.replaceChildren(errorPanel(`The runs could not be loaded: ${err.message}`, loadTraces));
    }
  }
  function scheduleTraces() {
    clearTimeout(traceTimer);
    traceTimer = setTimeout(loadTraces, 300);
  }
  scope.onCleanup(() => clearTimeout(traceTimer));
  refresh.addEventListener('click', () => busy(refresh, loadTraces));
  await loadTraces();
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function empty(el) {
  el.replaceChildren();
  return el;
}

/** A short reference of what a scenario can hold (from docs/scenarios.md). */
function reference() {
  const table = (rows) =>
    h('table', { class: 'table table--compact' }, h('tbody', null, rows.map(([t, f]) => h('tr', null, h('th', { scope: 'row' }, h('code', null, t)), h('td', null, f)))));
  return h(
    'details',
    { class: 'reference' },
    h('summary', null, 'Reference: triggers, conditions, actions'),
    h('div', { class: 'reference__grid' },
      h('div', null, h('h3', null, 'Triggers'), table([
        ['cron', 'job'], ['change', 'key, to?'], ['threshold', 'key, above?, below?, for?'], ['sun', 'event (sunrise, sunset), offset? ("-15m")'], ['event', 'key'], ['startup', ''],
      ]), h('p', { class: 'hint' }, 'Every trigger may have an id, for conditions of type trigger.')),
      h('div', null, h('h3', null, 'Conditions'), table([
        ['value', 'key, op (== != > >= < <=), value'], ['time', 'after?, before? ("07:30"), weekdays? (["mon", …])'], ['trigger', 'id'], ['and / or', 'conditions'], ['not', 'condition'],
      ])),
      h('div', null, h('h3', null, 'Actions'), table([
        ['device', 'device, command, value'], ['set', 'key, value, ttl?'], ['delay', 'for ("30s", "5m")'], ['wait', 'trigger, timeout?, stopOnTimeout?'],
        ['scenario', 'action (start, stop), name'], ['log', 'message, level?'], ['script', 'code, timeout?'], ['choose', 'when [{conditions, actions}], otherwise?'], ['repeat', 'while, actions, max?'],
      ])),
    ),
    h('p', { class: 'hint' }, 'mode: single (default), restart, queued or parallel (with max). Durations: 500ms, 30s, 5m, 2h, 1d, 1h30m.'),
  );
}
