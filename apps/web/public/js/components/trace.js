/**
 * A scenario trace for people: when it fired and why, the conditions with
 * ✓/✗, each step with its result or error, and for runs that did not go
 * through (blocked, skipped, stopped, error) the reason in plain sight.
 */
import { h } from '../dom.js';
import { formatFullTime, formatMs, formatTime, relativeTime, toMs, truncate } from '../format.js';
import { resultBadge } from './ui.js';

const TRIGGER_TEXT = {
  cron: 'Cron job',
  change: 'Change',
  threshold: 'Threshold',
  sun: 'Sun',
  event: 'Event',
  startup: 'Start-up',
  manual: 'Run by hand',
  scenario: 'Started by a scenario',
  restore: 'Resumed after a restart',
};

const RESULT_TEXT = {
  running: 'Running',
  done: 'Done',
  error: 'Failed',
  stopped: 'Stopped',
  blocked: 'Blocked by a condition',
  skipped: 'Skipped',
};

/** @param {object} trace - a Trace (see API.md) */
export function traceView(trace) {
  const fired = toMs(trace.firedAt);
  const finished = toMs(trace.finishedAt);
  const trigger = trace.trigger ?? {};
  const reasonKind = trace.result === 'error' ? 'bad' : 'warn';
  const conditions = Array.isArray(trace.conditions) ? trace.conditions : [];
  const steps = Array.isArray(trace.steps) ? trace.steps : [];

  return h(
    'article',
    { class: `trace trace--${trace.result}`, 'data-testid': 'trace', dataset: { result: trace.result, id: trace.id } },
    h(
      'header',
      { class: 'trace__head' },
      resultBadge(trace.result),
      h('span', { class: 'trace__what' }, RESULT_TEXT[trace.result] ?? trace.result),
      h(
        'time',
        { class: 'trace__time', datetime: Number.isFinite(fired) ? new Date(fired).toISOString() : undefined, title: formatFullTime(fired) },
        `${formatTime(fired)} · ${relativeTime(fired)}`,
      ),
      Number.isFinite(finished) && Number.isFinite(fired) ? h('span', { class: 'trace__duration' }, `took ${formatMs(finished - fired)}`) : null,
    ),
    trace.reason
      ? h('p', { class: `trace__reason notice notice--${reasonKind}`, 'data-testid': 'trace-reason' }, h('strong', null, `${reasonTitle(trace.result)}: `), trace.reason)
      : null,
    h(
      'p',
      { class: 'trace__why' },
      h('span', { class: 'trace__label' }, 'Why: '),
      h('span', { class: 'badge badge--muted' }, TRIGGER_TEXT[trigger.type] ?? trigger.type ?? '?'),
      trigger.id ? h('span', { class: 'trace__trigger-id' }, ` “${trigger.id}”`) : null,
      ' ',
      trigger.detail || (trigger.key ? `${trigger.key} = ${JSON.stringify(trigger.value)}` : ''),
    ),
    conditions.length
      ? h(
          'div',
          { class: 'trace__section' },
          h('h3', null, 'Conditions'),
          h(
            'ul',
            { class: 'trace__conditions' },
            conditions.map((c) =>
              h(
                'li',
                { class: c.ok ? 'ok' : 'not-ok', dataset: { ok: String(!!c.ok) } },
                h('span', { class: 'mark', 'aria-hidden': 'true' }, c.ok ? '✓' : '✗'),
                h('span', { class: 'visually-hidden' }, c.ok ? 'holds: ' : 'does not hold: '),
                c.detail,
              ),
            ),
          ),
        )
      : null,
    steps.length
      ? h(
          'div',
          { class: 'trace__section' },
          h('h3', null, 'Steps'),
          h('ol', { class: 'trace__steps' }, steps.map(stepView)),
        )
      : trace.result === 'done' || trace.result === 'running'
        ? h('p', { class: 'hint' }, 'No steps.')
        : null,
  );
}

function reasonTitle(result) {
  switch (result) {
    case 'blocked': return 'Did not run';
    case 'skipped': return 'Skipped';
    case 'stopped': return 'Stopped';
    case 'error': return 'Error';
    default: return 'Note';
  }
}

function stepView(step) {
  const failed = typeof step.error === 'string' && step.error !== '';
  return h(
    'li',
    { class: failed ? 'step step--error' : 'step', dataset: { path: step.path } },
    h(
      'div',
      { class: 'step__head' },
      h('span', { class: 'mark', 'aria-hidden': 'true' }, failed ? '✗' : step.result === undefined ? '…' : '✓'),
      h('code', { class: 'step__path', title: 'position in the actions' }, step.path),
      h('strong', { class: 'step__type' }, step.type),
      Number.isFinite(step.ms) ? h('span', { class: 'step__ms' }, formatMs(step.ms)) : null,
      Number.isFinite(toMs(step.at)) ? h('span', { class: 'step__at' }, formatTime(step.at)) : null,
    ),
    failed ? h('p', { class: 'step__error' }, step.error) : step.result !== undefined ? h('p', { class: 'step__result' }, describeResult(step.type, step.result)) : null,
  );
}

/** A step's result in words where the shape is known, else compact JSON. */
function describeResult(type, result) {
  if (result && typeof result === 'object') {
    if (type === 'device' && 'device' in result) return `${result.device} ${result.command} ← ${JSON.stringify(result.value)}`;
    if (type === 'set' && 'key' in result) return `${result.key} ← ${JSON.stringify(result.value)}`;
    if (type === 'choose' && 'branch' in result) return result.branch === null || result.branch === -1 ? 'no branch matched' : result.branch === 'otherwise' ? 'otherwise' : `branch ${Number(result.branch) + 1}`;
  }
  return truncate(typeof result === 'string' ? result : JSON.stringify(result), 400);
}
