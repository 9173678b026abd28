/**
 * Start-up: asks the server whether a session exists, shows the first-start
 * or login form if not, then the app (header, live stream, router).
 */
import { get, post, setCsrfToken, onAuthLost } from './api.js';
import { h } from './dom.js';
import { live } from './live.js';
import { Router } from './router.js';
import { errorPanel, loading } from './components/ui.js';
import { renderLogin } from './views/login.js';
import { dashboardView } from './views/dashboard.js';
import { deviceView } from './views/device.js';
import { historyView } from './views/history.js';
import { scenariosView } from './views/scenarios.js';
import { scenarioView } from './views/scenario.js';
import { cronView } from './views/cron.js';
import { systemView } from './views/system.js';

const main = document.getElementById('main');
const header = document.getElementById('app-header');
const indicator = header.querySelector('[data-testid="live-indicator"]');
const logoutButton = document.getElementById('logout');

const routes = [
  { pattern: /^\/$/, view: dashboardView, nav: 'dashboard' },
  { pattern: /^\/device\/(.+)$/, view: deviceView, nav: 'dashboard' },
  { pattern: /^\/history$/, view: historyView, nav: 'dashboard' },
  { pattern: /^\/scenarios$/, view: scenariosView, nav: 'scenarios' },
  { pattern: /^\/scenarios\/(new)$/, view: (ctx) => scenarioView({ ...ctx, isNew: true }), nav: 'scenarios' },
  { pattern: /^\/scenario\/([^/]+)$/, view: scenarioView, nav: 'scenarios' },
  { pattern: /^\/cron$/, view: cronView, nav: 'cron' },
  { pattern: /^\/system$/, view: systemView, nav: 'system' },
];

function notFound({ root }) {
  document.title = 'Not found · RasPy';
  root.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, 'Nothing here'),
    h('p', null, 'This page does not exist. ', h('a', { href: '#/' }, 'Back to the devices'), '.'),
  );
}

let router = null;
let firstRoute = true;

function onRoute(route) {
  for (const a of header.querySelectorAll('[data-nav]')) {
    if (route && a.dataset.nav === route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (firstRoute) {
    firstRoute = false;
    return;
  }
  // Move the focus to the new page's title, as a page load would (screen readers announce it).
  window.scrollTo(0, 0);
  requestAnimationFrame(() => main.querySelector('h1')?.focus({ preventScroll: true }));
}

function startApp() {
  header.hidden = false;
  live.connect();
  router?.stop();
  router = new Router(main, routes, { notFound, onRoute });
  firstRoute = true;
  router.start();
}

function showLogin(setupRequired) {
  router?.stop();
  router = null;
  live.disconnect();
  header.hidden = true;
  document.title = setupRequired ? 'First start · RasPy' : 'Log in · RasPy';
  renderLogin(main, {
    setupRequired,
    onDone(csrfToken) {
      setCsrfToken(csrfToken);
      startApp();
    },
  });
}

async function boot() {
  main.replaceChildren(loading());
  let session;
  try {
    session = await get('/api/session');
  } catch (err) {
    main.replaceChildren(errorPanel(err.message, boot));
    return;
  }
  if (session.authenticated) {
    setCsrfToken(session.csrfToken);
    startApp();
  } else {
    setCsrfToken(null);
    showLogin(session.setupRequired === true);
  }
}

// ------------------------------------------------------------------ wiring

const STATUS_TEXT = { live: 'live', connecting: 'connecting', reconnecting: 'reconnecting', offline: 'offline' };
live.addEventListener('status', (ev) => {
  indicator.textContent = STATUS_TEXT[ev.detail] ?? ev.detail;
  indicator.dataset.status = ev.detail;
  indicator.title = ev.detail === 'live' ? 'Live updates are on' : 'Live updates are off; the values shown may be old';
});

// When the stream drops, the session may be what ended (expired, logged out elsewhere).
live.addEventListener('dropped', () => {
  get('/api/session')
    .then((s) => {
      if (!s.authenticated && router) showLogin(s.setupRequired === true);
    })
    .catch(() => {});
});

onAuthLost(() => {
  if (router) showLogin(false);
});

logoutButton.addEventListener('click', async () => {
  logoutButton.disabled = true;
  try {
    await post('/api/logout');
  } catch {
    // Logged out or not, the page forgets the session.
  } finally {
    logoutButton.disabled = false;
  }
  setCsrfToken(null);
  showLogin(false);
});

// The skip link targets #main, which would be read as a route.
document.querySelector('[data-skip]')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  main.focus();
});

boot();
