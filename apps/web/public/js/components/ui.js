/** Small shared pieces: badges, page headers, messages, toasts, confirmation. */
import { h } from '../dom.js';

/** A pill with text; `kind` picks the colour (ok, warn, bad, info, muted, run). */
export function badge(text, kind = 'muted', attrs = {}) {
  return h('span', { class: `badge badge--${kind}`, ...attrs }, text);
}

const STATE_KIND = { online: 'ok', offline: 'warn', lost: 'bad' };

/** Sets a device state badge's text and colour. */
export function setStateBadge(el, state) {
  el.textContent = state;
  el.className = `badge badge--${STATE_KIND[state] ?? 'muted'}`;
  el.dataset.state = state;
}

/** The device state from its `$state` key's value (absent or deleted → lost). */
export function stateFromKey(value) {
  if (value === null || value === undefined) return 'lost';
  if (typeof value === 'object' && value.online === false) return 'offline';
  return 'online';
}

const RESULT_KIND = { done: 'ok', running: 'run', error: 'bad', stopped: 'warn', blocked: 'warn', skipped: 'muted' };

/** A badge for a scenario run's result. */
export function resultBadge(result, attrs = {}) {
  return badge(result ?? '—', RESULT_KIND[result] ?? 'muted', attrs);
}

/** A page's title block; the h1 takes the focus after navigation. */
export function pageHeader(title, { subtitle, back, actions } = {}) {
  return h(
    'header',
    { class: 'page-header' },
    back ? h('a', { class: 'back-link', href: back.href }, `← ${back.text}`) : null,
    h(
      'div',
      { class: 'page-header__row' },
      h('h1', { class: 'page-title', tabindex: '-1' }, title),
      actions ? h('div', { class: 'page-header__actions' }, actions) : null,
    ),
    subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null,
  );
}

/** A message box for a failed load, with an optional retry button. */
export function errorPanel(message, retry) {
  return h(
    'div',
    { class: 'notice notice--bad', role: 'alert' },
    h('p', null, message),
    retry ? h('button', { type: 'button', class: 'btn btn--small', on: { click: retry } }, 'Try again') : null,
  );
}

/** A neutral note (empty lists, hints). */
export function note(...children) {
  return h('div', { class: 'notice' }, ...children);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', 'aria-live': 'polite' }, text);
}

/** A short message at the bottom of the screen that goes away by itself. */
export function toast(message, kind = 'info', ms = 4000) {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', { class: `toast toast--${kind}`, role: kind === 'bad' ? 'alert' : 'status' }, message);
  box.appendChild(el);
  setTimeout(() => {
    el.classList.add('toast--out');
    setTimeout(() => el.remove(), 300);
  }, ms);
}

/**
 * Asks for a confirmation in a modal <dialog> (not window.confirm, which
 * browsers may block and automated tests dismiss).
 *
 * @returns {Promise<boolean>}
 */
export function confirmDialog(message, { ok = 'OK', danger = false } = {}) {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-label': 'Confirm' },
      h(
        'form',
        { method: 'dialog' },
        h('p', { class: 'dialog__message' }, message),
        h(
          'div',
          { class: 'dialog__buttons' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn btn--ghost', 'data-testid': 'confirm-cancel' }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: danger ? 'btn btn--danger' : 'btn btn--primary', 'data-testid': 'confirm-ok' }, ok),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.appendChild(dialog);
    dialog.showModal();
  });
}

/** A toggle switch (a checkbox with role="switch") with its label. */
export function switchInput({ id, checked, label, labelHidden = false, onChange, attrs = {} }) {
  const input = h('input', { type: 'checkbox', role: 'switch', class: 'switch', id, checked: !!checked, ...attrs });
  if (onChange) input.addEventListener('change', () => onChange(input.checked, input));
  const lab = h('label', { for: id, class: labelHidden ? 'visually-hidden' : 'switch-label' }, label);
  return { input, label: lab };
}

/** Disables a button while `fn` runs. */
export async function busy(button, fn) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

/** Saves text as a file in the browser's downloads. */
export function download(filename, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Copies text; falls back to selecting it where the clipboard API is missing (plain http). */
export async function copyText(text, fallbackInput) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}
