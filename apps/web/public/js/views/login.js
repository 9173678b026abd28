/** The first-start form (create the admin password) and the login form. */
import { post } from '../api.js';
import { h, uniqueId } from '../dom.js';

const MIN_LENGTH = 10;

/**
 * @param {HTMLElement} root
 * @param {{setupRequired: boolean, onDone: (csrfToken: string) => void}} options
 */
export function renderLogin(root, { setupRequired, onDone }) {
  root.replaceChildren(setupRequired ? setupForm(onDone) : loginForm(onDone));
  root.querySelector('input')?.focus();
}

/** A password field with its label and an error line under it. */
function passwordField({ label, testid, autocomplete, hint }) {
  const id = uniqueId('pw');
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', {
    id,
    type: 'password',
    name: testid,
    autocomplete,
    required: true,
    'data-testid': testid,
    'aria-describedby': [hintId, errorId].filter(Boolean).join(' '),
  });
  const error = h('p', { id: errorId, class: 'field-error', hidden: true });
  const field = h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { id: hintId, class: 'hint' }, hint) : null, error);
  const setError = (msg) => {
    error.textContent = msg ?? '';
    error.hidden = !msg;
    if (msg) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  };
  input.addEventListener('input', () => setError(null));
  return { field, input, setError };
}

function card(title, intro, form) {
  return h(
    'section',
    { class: 'auth' },
    h(
      'div',
      { class: 'auth__card' },
      h('div', { class: 'auth__brand', 'aria-hidden': 'true' }, '🏠'),
      h('h1', { class: 'auth__title', tabindex: '-1' }, title),
      h('p', { class: 'auth__intro' }, intro),
      form,
    ),
  );
}

function setupForm(onDone) {
  const pw = passwordField({ label: 'New password', testid: 'setup-password', autocomplete: 'new-password', hint: `At least ${MIN_LENGTH} characters.` });
  const confirm = passwordField({ label: 'Password again', testid: 'setup-confirm', autocomplete: 'new-password' });
  const formError = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary btn--block', 'data-testid': 'setup-submit' }, 'Create the password');
  const form = h('form', { class: 'form', novalidate: true }, pw.field, confirm.field, formError, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    formError.hidden = true;
    let ok = true;
    if (pw.input.value.length < MIN_LENGTH) {
      pw.setError(`The password needs at least ${MIN_LENGTH} characters (it has ${pw.input.value.length}).`);
      ok = false;
    }
    if (confirm.input.value !== pw.input.value) {
      confirm.setError('The two passwords differ.');
      ok = false;
    }
    if (!ok) {
      (pw.input.getAttribute('aria-invalid') ? pw.input : confirm.input).focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await post('/api/setup', { password: pw.input.value });
      onDone(res.csrfToken);
    } catch (err) {
      if (err.status === 400) pw.setError(err.message);
      else {
        formError.textContent = err.status === 409 || err.status === 403 ? `${err.message} Reload the page to log in.` : err.message;
        formError.hidden = false;
      }
    } finally {
      submit.disabled = false;
    }
  });
  return card('Welcome to RasPy', 'First start: choose the password of the house. You will use it to log in from any browser.', form);
}

function loginForm(onDone) {
  const pw = passwordField({ label: 'Password', testid: 'login-password', autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary btn--block', 'data-testid': 'login-submit' }, 'Log in');
  const form = h('form', { class: 'form', novalidate: true }, pw.field, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!pw.input.value) {
      pw.setError('Enter the password.');
      pw.input.focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await post('/api/login', { password: pw.input.value });
      onDone(res.csrfToken);
    } catch (err) {
      pw.setError(err.status === 401 ? 'Wrong password.' : err.message);
      pw.input.select();
    } finally {
      submit.disabled = false;
    }
  });
  return card('Log in', 'Enter the password of the house.', form);
}
