/**
 * A control drawn from a command's schema alone, so any device type works:
 *
 * | schema                          | control                                   |
 * |---------------------------------|-------------------------------------------|
 * | readonly                        | the value (a history link when numeric)   |
 * | bytes, mime image/*             | an <img> from /api/snapshot + refresh     |
 * | writeonly bool                  | a button that sends true (an action)      |
 * | bool                            | a switch                                  |
 * | int/real with min and max       | a slider (step) and the value with unit   |
 * |   (more than 1000 steps)        | a number field (min, max)                 |
 * | int/real without a range        | a number field                            |
 * | string                          | a text field                              |
 * | enum                            | a select                                  |
 * | json                            | a textarea                                |
 *
 * Values are sent with POST /api/command; the device's refusal (400) is
 * shown under the control, which goes back to the last known value. The
 * control follows the live value, except while the user is editing it.
 */
import { post, qs } from '../api.js';
import { append, h, uniqueId } from '../dom.js';
import { live } from '../live.js';
import { formatNumber, formatValue, labelOf } from '../format.js';
import { isNumeric, valueKey } from '../devices.js';

/**
 * @param {object} o
 * @param {string} o.deviceId - the (sub)device's full id, e.g. `pi1/sim/tv/volume`
 * @param {string} o.name - the command
 * @param {object} o.spec - its CommandSpec
 * @param {{value: unknown, unit?: string}|undefined} o.reading - the value known now
 * @param {import('../router.js').Scope} o.scope
 * @param {(value: unknown) => void} [o.onValue] - told of every new value (e.g. a name change)
 * @returns {HTMLElement}
 */
export function createControl({ deviceId, name, spec, reading, scope, onValue }) {
  const key = valueKey(deviceId, name);
  const label = labelOf(name, spec);
  const unit = spec.unit ?? reading?.unit;
  const inputId = uniqueId('ctl');
  const errorId = `${inputId}-error`;
  const descId = spec.description ? `${inputId}-desc` : null;
  const readable = !spec.writeonly && spec.type !== 'bytes';

  const root = h('div', {
    class: ['control', `control--${spec.type}`, spec.readonly && 'control--readonly', spec.writeonly && 'control--action'],
    'data-testid': 'control',
    dataset: { command: name, device: deviceId },
  });
  const error = h('p', { id: errorId, class: 'control-error', 'data-testid': 'control-error', role: 'alert', hidden: true });
  const describedBy = [descId, errorId].filter(Boolean).join(' ');

  /** The current value as text (`data-key` = the tree key, for tests and people alike). */
  const valueEl = readable ? h('output', { class: 'control-value', 'data-testid': 'value', dataset: { key }, for: inputId }, formatValue(reading?.value, unit)) : null;

  let current = reading?.value;
  let widget;

  const setError = (msg) => {
    error.textContent = msg ?? '';
    error.hidden = !msg;
    root.classList.toggle('has-error', !!msg);
    const target = widget?.focusEl;
    if (target) {
      if (msg) target.setAttribute('aria-invalid', 'true');
      else target.removeAttribute('aria-invalid');
    }
  };

  const apply = (value, { force = false } = {}) => {
    current = value;
    if (valueEl) valueEl.textContent = formatValue(value, unit);
    if (widget?.set && (force || !widget.interacting?.())) widget.set(value);
    onValue?.(value);
  };

  /** Sends a value; true when the device took it. */
  const send = async (value) => {
    setError(null);
    root.classList.add('is-busy');
    root.setAttribute('aria-busy', 'true');
    widget?.setBusy?.(true);
    try {
      const res = await post('/api/command', { device: deviceId, command: name, value });
      if (readable && res && res.reading && 'value' in res.reading) apply(res.reading.value, { force: true });
      else if (readable) apply(value, { force: true });
      else flash(root);
      return true;
    } catch (err) {
      setError(err.message);
      if (widget?.set) widget.set(current); // back to what the device has
      return false;
    } finally {
      root.classList.remove('is-busy');
      root.removeAttribute('aria-busy');
      widget?.setBusy?.(false);
    }
  };

  const ctx = { spec, name, label, unit, inputId, describedBy, deviceId, valueEl, send, setError, scope, get current() { return current; } };
  widget = makeWidget(ctx, reading?.value);

  // Head: the label on the left; the value (or the switch) on the right.
  const labelEl = widget.focusEl && widget.labelFor !== false
    ? h('label', { class: 'control-label', for: widget.focusEl.id || inputId }, label)
    : h('span', { class: 'control-label', id: `${inputId}-label` }, label);
  const head = h('div', { class: 'control-head' }, widget.noLabel ? null : labelEl, valueEl && !widget.hideValue ? valueEl : null, widget.inHead ? widget.el : null);
  if (valueEl && widget.hideValue) valueEl.hidden = true;
  append(root, [
    head,
    spec.description ? h('p', { id: descId, class: 'control-desc' }, spec.description) : null,
    widget.inHead ? null : widget.el,
    valueEl && widget.hideValue ? valueEl : null,
    error,
  ]);

  if (readable) {
    scope.onCleanup(
      live.watchKey(key, (_k, v) => {
        if (v && typeof v === 'object' && 'value' in v) apply(v.value);
      }),
    );
    const known = live.get(key);
    if (known && typeof known === 'object' && 'value' in known) apply(known.value);
  }
  return root;
}

/** A brief highlight that an action was sent. */
function flash(el) {
  el.classList.remove('flash');
  void el.offsetWidth;
  el.classList.add('flash');
}

function makeWidget(ctx, value) {
  const { spec } = ctx;
  if (spec.type === 'bytes') return bytesWidget(ctx);
  if (spec.readonly) return readonlyWidget(ctx, value);
  if (spec.writeonly && spec.type === 'bool') return actionWidget(ctx);
  switch (spec.type) {
    case 'bool':
      return boolWidget(ctx, value);
    case 'int':
    case 'real':
      return hasSliderRange(spec) ? sliderWidget(ctx, value) : numberWidget(ctx, value);
    case 'enum':
      return enumWidget(ctx, value);
    case 'json':
      return jsonWidget(ctx, value);
    case 'string':
    default:
      return textWidget(ctx, value);
  }
}

/**
 * A slider for a numeric range, unless it has so many steps that a slider
 * cannot hit a value (a poll interval of 0..86400 s): then a number field.
 */
function hasSliderRange(spec) {
  if (!Number.isFinite(spec.min) || !Number.isFinite(spec.max) || spec.max <= spec.min) return false;
  const step = Number.isFinite(spec.step) && spec.step > 0 ? spec.step : spec.type === 'int' ? 1 : (spec.max - spec.min) / 100;
  return (spec.max - spec.min) / step <= 1000;
}

// ------------------------------------------------------------------ widgets

function readonlyWidget({ spec, deviceId, name }, value) {
  const extra = [];
  if (isNumeric(spec)) {
    extra.push(h('a', { class: 'control-link', href: `#/history?${qs({ key: valueKey(deviceId, name) })}`, 'data-testid': 'history-link' }, 'History'));
  }
  if (spec.type === 'json') {
    // Long JSON reads better as a block than in the head.
    const pre = h('pre', { class: 'control-json' }, value === undefined ? '—' : JSON.stringify(value, null, 2));
    return {
      el: h('div', null, pre, extra),
      set: (v) => (pre.textContent = v === undefined || v === null ? '—' : JSON.stringify(v, null, 2)),
      hideValue: true,
    };
  }
  return { el: extra.length ? h('div', { class: 'control-links' }, extra) : h('span'), set: null };
}

function boolWidget({ inputId, describedBy, send }, value) {
  const input = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id: inputId, checked: value === true, 'aria-describedby': describedBy });
  input.addEventListener('change', () => send(input.checked));
  return {
    el: input,
    inHead: true,
    focusEl: input,
    set: (v) => (input.checked = v === true),
    setBusy: (b) => (input.disabled = b),
  };
}

function actionWidget({ inputId, describedBy, send, label }) {
  const button = h('button', { type: 'button', class: 'btn btn--small', id: inputId, 'aria-describedby': describedBy }, label);
  button.addEventListener('click', () => send(true));
  return { el: button, inHead: true, focusEl: button, labelFor: false, noLabel: true, setBusy: (b) => (button.disabled = b) };
}

function sliderWidget({ spec, inputId, describedBy, send, unit, valueEl }, value) {
  const step = spec.step ?? (spec.type === 'int' ? 1 : 'any');
  const input = h('input', {
    type: 'range',
    id: inputId,
    min: spec.min,
    max: spec.max,
    step,
    'aria-describedby': describedBy,
  });
  let dragging = false;
  const setText = () => input.setAttribute('aria-valuetext', `${formatNumber(Number(input.value))}${unit ? ` ${unit}` : ''}`);
  const set = (v) => {
    if (typeof v === 'number') input.value = String(v);
    setText();
  };
  set(typeof value === 'number' ? value : spec.min);
  // While dragging, show the value the slider is on; send it when let go.
  input.addEventListener('pointerdown', () => (dragging = true));
  for (const ev of ['pointerup', 'pointercancel', 'blur']) input.addEventListener(ev, () => (dragging = false));
  input.addEventListener('input', () => {
    setText();
    if (valueEl) valueEl.textContent = formatValue(Number(input.value), unit);
  });
  input.addEventListener('change', () => {
    dragging = false;
    const n = Number(input.value);
    send(spec.type === 'int' ? Math.round(n) : n);
  });
  const scale = h('div', { class: 'slider-scale', 'aria-hidden': 'true' }, h('span', null, formatValue(spec.min, unit)), h('span', null, formatValue(spec.max, unit)));
  return {
    el: h('div', { class: 'slider' }, input, scale),
    focusEl: input,
    set,
    interacting: () => dragging,
  };
}

/** A field and a Set button in a small form; submitting parses and sends. */
function fieldForm(ctx, input, parse, extra = null) {
  const button = h('button', { type: 'submit', class: 'btn btn--small' }, ctx.spec.writeonly ? 'Send' : 'Set');
  const form = h('form', { class: 'control-form', novalidate: true }, input, extra, button);
  let dirty = false;
  input.addEventListener('input', () => {
    dirty = true;
    ctx.setError(null);
  });
  input.addEventListener('blur', () => {
    // Leaving the field unchanged lets live values in again.
    if (input.value === serialize(ctx.current, ctx.spec)) dirty = false;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let value;
    try {
      value = parse(input.value);
    } catch (err) {
      ctx.setError(err.message);
      input.focus();
      return;
    }
    button.disabled = true;
    const ok = await ctx.send(value);
    button.disabled = false;
    if (ok) dirty = false;
    if (ok && ctx.spec.writeonly) input.value = '';
  });
  return {
    el: form,
    focusEl: input,
    set: (v) => {
      if (!ctx.spec.writeonly) input.value = serialize(v, ctx.spec);
      dirty = false;
    },
    interacting: () => dirty && document.activeElement === input,
  };
}

function serialize(v, spec) {
  if (v === undefined || v === null) return '';
  if (spec.type === 'json') return JSON.stringify(v, null, 2);
  return String(v);
}

function numberWidget(ctx, value) {
  const { spec, inputId, describedBy, unit } = ctx;
  const input = h('input', {
    type: 'number',
    id: inputId,
    inputmode: spec.type === 'int' ? 'numeric' : 'decimal',
    step: spec.step ?? (spec.type === 'int' ? 1 : 'any'),
    min: spec.min,
    max: spec.max,
    'aria-describedby': describedBy,
    value: serialize(value, spec),
  });
  const parse = (text) => {
    if (text.trim() === '') throw new Error('Enter a number.');
    const n = Number(text);
    if (!Number.isFinite(n)) throw new Error('Enter a number.');
    if (spec.type === 'int' && !Number.isInteger(n)) throw new Error('Enter a whole number.');
    return n;
  };
  return fieldForm(ctx, input, parse, unit ? h('span', { class: 'unit' }, unit) : null);
}

function textWidget(ctx, value) {
  const { spec, inputId, describedBy } = ctx;
  const input = h('input', { type: 'text', id: inputId, maxlength: spec.maxLength, 'aria-describedby': describedBy, value: serialize(value, spec), autocomplete: 'off' });
  return fieldForm(ctx, input, (text) => text);
}

function jsonWidget(ctx, value) {
  const { spec, inputId, describedBy } = ctx;
  const input = h('textarea', { id: inputId, rows: 4, spellcheck: 'false', class: 'mono', 'aria-describedby': describedBy });
  input.value = serialize(value, spec);
  const parse = (text) => {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new Error(`Not valid JSON: ${err.message}`);
    }
  };
  const w = fieldForm(ctx, input, parse);
  w.hideValue = true; // the textarea shows it
  return w;
}

function enumWidget({ spec, inputId, describedBy, send }, value) {
  const select = h('select', { id: inputId, 'aria-describedby': describedBy });
  const values = Array.isArray(spec.values) ? spec.values : [];
  const fill = (v) => {
    select.replaceChildren();
    if (v === undefined || v === null || !values.includes(v)) select.append(h('option', { value: '', disabled: true, selected: true }, v === undefined || v === null ? 'Choose…' : String(v)));
    for (const option of values) select.append(h('option', { value: String(option), selected: option === v }, String(option)));
  };
  fill(value);
  select.addEventListener('change', () => {
    const chosen = values.find((o) => String(o) === select.value);
    if (chosen !== undefined) send(chosen);
  });
  return { el: select, focusEl: select, set: fill, setBusy: (b) => (select.disabled = b), interacting: () => false };
}

function bytesWidget({ spec, deviceId, name, label, inputId, setError, scope }) {
  const url = (bust) => `/api/snapshot?${qs({ device: deviceId, command: name, ...(bust ? { t: Date.now() } : {}) })}`;
  if (typeof spec.mime === 'string' && spec.mime.startsWith('image/')) {
    const img = h('img', { class: 'snapshot', 'data-testid': 'snapshot-img', alt: `${label} of ${deviceId}`, id: inputId });
    const status = h('span', { class: 'hint', 'aria-live': 'polite' });
    const refresh = h('button', { type: 'button', class: 'btn btn--small', 'data-testid': 'snapshot-refresh' }, '↻ Refresh');
    const autoId = `${inputId}-auto`;
    const auto = h('input', { type: 'checkbox', id: autoId });
    let timer = null;
    const load = () => {
      refresh.disabled = true;
      status.textContent = 'Loading…';
      img.src = url(true);
    };
    img.addEventListener('load', () => {
      refresh.disabled = false;
      setError(null);
      img.classList.remove('snapshot--failed');
      status.textContent = `Taken ${new Date().toLocaleTimeString()}`;
    });
    img.addEventListener('error', async () => {
      refresh.disabled = false;
      status.textContent = '';
      img.classList.add('snapshot--failed');
      // The <img> cannot read the error message; ask again for it.
      let msg = 'The picture could not be loaded.';
      try {
        const res = await fetch(url(true), { credentials: 'same-origin' });
        const body = await res.json().catch(() => null);
        if (body && typeof body.error === 'string') msg = body.error;
      } catch {
        // keep the generic message
      }
      setError(msg);
    });
    refresh.addEventListener('click', load);
    auto.addEventListener('change', () => {
      clearInterval(timer);
      timer = auto.checked ? setInterval(() => document.visibilityState === 'visible' && load(), 5000) : null;
    });
    scope.onCleanup(() => clearInterval(timer));
    load();
    return {
      el: h(
        'div',
        { class: 'snapshot-box' },
        h('div', { class: 'snapshot-frame' }, img),
        h('div', { class: 'snapshot-tools' }, refresh, h('span', { class: 'check' }, auto, h('label', { for: autoId }, 'Every 5 s')), status),
      ),
      labelFor: false,
    };
  }
  const link = h('a', { href: url(false), download: `${name}`, class: 'btn btn--small' }, `Download${spec.mime ? ` (${spec.mime})` : ''}`);
  return { el: link, labelFor: false };
}
