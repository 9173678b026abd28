/** Cron jobs: list, add, edit, enable/disable, run now, delete. */
import { del, get, post, put, seg } from '../api.js';
import { h, uniqueId } from '../dom.js';
import { formatFullTime, formatTime, relativeTime } from '../format.js';
import { busy, confirmDialog, errorPanel, loading, note, pageHeader, toast } from '../components/ui.js';

export async function cronView({ root, scope }) {
  document.title = 'Cron jobs · RasPy';
  const add = h('button', { type: 'button', class: 'btn btn--primary', 'data-testid': 'cron-new' }, '+ New job');
  const formBox = h('div');
  const list = h('div', { class: 'rows' }, loading('Loading the cron jobs…'));
  root.append(
    pageHeader('Cron jobs', { subtitle: 'Ticks on a schedule; scenarios use them as triggers (type cron).', actions: add }),
    formBox,
    list,
  );

  const load = async () => {
    let jobs;
    try {
      ({ jobs } = await get('/api/cron', { signal: scope.signal }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      list.replaceChildren(errorPanel(`The cron jobs could not be loaded: ${err.message}`, load));
      return;
    }
    if (!jobs?.length) {
      list.replaceChildren(note(h('p', null, h('strong', null, 'No cron jobs yet. ')), h('p', null, 'Add one with “New job”, e.g. 0 23 * * * for every evening at 23:00.')));
      return;
    }
    jobs.sort((a, b) => a.job.name.localeCompare(b.job.name));
    list.replaceChildren(...jobs.map(row));
  };

  const openForm = (job) => {
    formBox.replaceChildren(jobForm(job, {
      onDone: () => {
        formBox.replaceChildren();
        load();
      },
      onCancel: () => formBox.replaceChildren(),
    }));
    formBox.querySelector('input:not([disabled])')?.focus();
    formBox.scrollIntoView({ block: 'nearest' });
  };
  add.addEventListener('click', () => openForm(null));

  function row(state) {
    const { job } = state;
    const name = job.name;
    const enabledOn = job.enabled !== false;
    const switchId = uniqueId('cron-enabled');
    const enabled = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: switchId, checked: enabledOn, 'data-testid': 'cron-enabled' });
    const message = h('p', { class: 'row__message', role: 'status' });
    const runNow = h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'cron-run' }, '▶ Run now');
    const edit = h('button', { type: 'button', class: 'btn btn--small btn--ghost', 'data-testid': 'cron-edit' }, 'Edit');
    const remove = h('button', { type: 'button', class: 'btn btn--small btn--danger-ghost', 'data-testid': 'cron-delete' }, 'Delete');
    const stat = (label, value, attrs = {}) => h('div', attrs, h('dt', null, label), h('dd', null, value));

    enabled.addEventListener('change', async () => {
      const want = enabled.checked;
      enabled.disabled = true;
      try {
        await post(`/api/cron/${seg(name)}/${want ? 'enable' : 'disable'}`);
        load();
      } catch (err) {
        enabled.checked = !want;
        message.textContent = err.message;
      } finally {
        enabled.disabled = false;
      }
    });
    runNow.addEventListener('click', () =>
      busy(runNow, async () => {
        try {
          await post(`/api/cron/${seg(name)}/run`);
          toast(`“${name}” ticked: its scenarios were triggered.`, 'ok');
          load();
        } catch (err) {
          message.textContent = err.message;
        }
      }),
    );
    edit.addEventListener('click', () => openForm(job));
    remove.addEventListener('click', async () => {
      if (!(await confirmDialog(`Delete the cron job “${name}”? Scenarios triggered by it will not run any more.`, { ok: 'Delete', danger: true }))) return;
      try {
        await del(`/api/cron/${seg(name)}`);
        toast(`Cron job “${name}” deleted.`, 'ok');
        load();
      } catch (err) {
        message.textContent = err.message;
      }
    });

    return h(
      'article',
      { class: 'row', 'data-testid': 'cron-row', dataset: { name } },
      h(
        'div',
        { class: 'row__main' },
        h('h2', { class: 'row__title' }, name, ' ', h('code', { class: 'cron-expr' }, job.expression), job.timezone ? h('span', { class: 'hint' }, ` ${job.timezone}`) : null),
        job.description ? h('p', { class: 'row__desc' }, job.description) : null,
        h(
          'dl',
          { class: 'stats stats--inline' },
          stat('Next', state.next && enabledOn ? h('time', { title: formatFullTime(state.next) }, `${formatTime(state.next)} (${relativeTime(state.next)})`) : '—'),
          stat('Ticks', String(state.ticks ?? 0), { title: state.lastTick ? `last ${formatFullTime(state.lastTick)}` : '' }),
          stat('Missed', String(state.missed ?? 0), { class: state.missed ? 'is-warn' : '', title: state.lastMissed ? `last missed ${formatFullTime(state.lastMissed)}` : '' }),
          state.lastTick ? stat('Last tick', h('time', { title: formatFullTime(state.lastTick) }, relativeTime(state.lastTick))) : null,
        ),
        message,
      ),
      h('div', { class: 'row__tools' }, h('span', { class: 'check' }, enabled, h('label', { for: switchId }, 'Enabled')), h('div', { class: 'btn-group' }, runNow, edit, remove)),
    );
  }

  scope.every(30_000, load);
  await load();
}

let zones = null;
function timeZones() {
  if (!zones) {
    try {
      zones = Intl.supportedValuesOf('timeZone');
    } catch {
      zones = [];
    }
  }
  return zones;
}

/** The add/edit form; `job` null for a new one. */
function jobForm(job, { onDone, onCancel }) {
  const isNew = !job;
  const field = (label, input, hint) => {
    const hintEl = hint ? h('p', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
    if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
    return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
  };
  const name = h('input', { id: uniqueId('cron-name'), type: 'text', required: true, value: job?.name ?? '', disabled: !isNew, autocomplete: 'off', autocapitalize: 'off', pattern: '[a-z0-9][a-z0-9-]*', 'data-testid': 'cron-name' });
  const expression = h('input', { id: uniqueId('cron-expr'), type: 'text', required: true, value: job?.expression ?? '', class: 'mono', autocomplete: 'off', autocapitalize: 'off', placeholder: '0 23 * * *', 'data-testid': 'cron-expression' });
  const listId = uniqueId('zones');
  const timezone = h('input', { id: uniqueId('cron-tz'), type: 'text', value: job?.timezone ?? '', list: listId, autocomplete: 'off', placeholder: Intl.DateTimeFormat().resolvedOptions().timeZone, 'data-testid': 'cron-timezone' });
  const zoneList = h('datalist', { id: listId }, timeZones().map((z) => h('option', { value: z })));
  const description = h('input', { id: uniqueId('cron-desc'), type: 'text', value: job?.description ?? '', 'data-testid': 'cron-description' });
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true, 'data-testid': 'cron-error' });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary', 'data-testid': 'cron-save' }, isNew ? 'Add' : 'Save');
  const cancel = h('button', { type: 'button', class: 'btn btn--ghost', on: { click: onCancel } }, 'Cancel');

  const form = h(
    'form',
    { class: 'form form--grid', novalidate: true, 'data-testid': 'cron-form' },
    field('Name', name, isNew ? 'Lower-case letters, digits and “-”; scenarios refer to it.' : 'The name cannot change.'),
    field('Expression', expression, 'minute hour day month weekday (a 6th field first for seconds), e.g. 0 23 * * 1-5'),
    field('Time zone', timezone, 'Empty: the core’s time zone.'),
    zoneList,
    field('Description', description),
    error,
    h('div', { class: 'form-buttons' }, submit, cancel),
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const body = { name: name.value.trim(), expression: expression.value.trim() };
    if (timezone.value.trim()) body.timezone = timezone.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    if (job && job.enabled !== undefined) body.enabled = job.enabled;
    if (!body.name || !body.expression) {
      error.textContent = !body.name ? 'Give the job a name.' : 'Give the job a cron expression.';
      error.hidden = false;
      (!body.name ? name : expression).focus();
      return;
    }
    submit.disabled = true;
    try {
      if (isNew) await post('/api/cron', { job: body });
      else await put(`/api/cron/${seg(job.name)}`, { job: body });
      toast(isNew ? `Cron job “${body.name}” added.` : 'Saved.', 'ok');
      onDone();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'panel' }, h('h2', { class: 'panel__title' }, isNew ? 'New cron job' : `Edit “${job.name}”`), form);
}
