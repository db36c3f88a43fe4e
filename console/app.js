/** The admin console: signs in, then shows one view at a time (#grants, #revocations, #audit, #tools, #live). */
import { ApiError, createApi, readJson } from './api.js';
import { beginSignIn, completeSignIn, currentToken, devSignIn, forgetToken } from './auth.js';
import { fill, h } from './dom.js';
import { auditView } from './view-audit.js';
import { grantsView } from './view-grants.js';
import { liveView } from './view-live.js';
import { revocationsView } from './view-revocations.js';
import { toolsView } from './view-tools.js';

/** @typedef {import('./types.js').SignInConfig} SignInConfig */
/** @typedef {import('./types.js').Me} Me */
/** @typedef {import('./types.js').View} View */

/** @type {Record<string, View>} */
const VIEWS = {
  grants: grantsView,
  revocations: revocationsView,
  audit: auditView,
  tools: toolsView,
  live: liveView,
};

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const main = byId('main');
const notice = byId('notice');

/** @type {(() => void) | void} */
let stopView;

/**
 * @param {string} message
 * @param {'info' | 'error'} kind
 * @param {string | null} [auditId]
 */
function show(message, kind, auditId) {
  notice.className = kind;
  fill(
    notice,
    message,
    auditId ? h('span', { class: 'audit-ref', dataset: { auditId } }, `audit row #${auditId}`) : null,
  );
  notice.hidden = false;
}

/** @param {unknown} error */
function fail(error) {
  show(error instanceof Error ? error.message : String(error), 'error');
}

async function start() {
  const config = /** @type {SignInConfig} */ (
    await readJson(await fetch('config.json', { cache: 'no-store' }))
  );
  if (config.signIn === 'oauth') {
    try {
      await completeSignIn(config);
    } catch (error) {
      fail(error);
    }
  }
  if (!currentToken()) return signInPage(config);

  const api = createApi(currentToken, () => {
    forgetToken();
    location.reload();
  });
  /** @type {Me} */
  let me;
  try {
    me = /** @type {Me} */ ((await api('GET', '/admin/me')).data);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      forgetToken();
      return signInPage(config, 'This account has no admin scope (mcp:admin or mcp:admin:read).');
    }
    throw error;
  }

  fill(byId('who-agent'), me.agentId);
  const role = byId('who-role');
  fill(role, me.canWrite ? 'admin' : 'read-only');
  role.classList.toggle('read-only', !me.canWrite);
  byId('who').hidden = false;
  byId('nav').hidden = false;
  byId('sign-out').addEventListener('click', () => {
    forgetToken();
    location.hash = '';
    location.reload();
  });

  /** @type {import('./types.js').ViewContext} */
  const context = {
    main,
    canWrite: me.canWrite,
    api,
    notify: (message, auditId) => show(message, 'info', auditId),
    fail,
  };
  const route = async () => {
    if (typeof stopView === 'function') stopView();
    const name = location.hash.slice(1) in VIEWS ? location.hash.slice(1) : 'grants';
    for (const link of document.querySelectorAll('#nav a')) {
      link.classList.toggle('active', link.getAttribute('data-view') === name);
    }
    fill(main);
    main.dataset.view = name;
    try {
      stopView = await VIEWS[name](context);
    } catch (error) {
      fail(error);
    }
  };
  window.addEventListener('hashchange', () => {
    notice.hidden = true;
    void route();
  });
  await route();
}

/**
 * @param {SignInConfig} config
 * @param {string} [message]
 */
function signInPage(config, message) {
  if (message) fail(message);
  /** @param {() => Promise<void>} action */
  const run = (action) => () => void action().catch(fail);
  /** @type {HTMLElement} */
  let body;
  if (config.signIn === 'oauth') {
    const here = new URL(config.redirectUri);
    body =
      location.origin === here.origin
        ? h(
            'div',
            {},
            h('p', {}, 'Sign in with your identity provider:'),
            h('p', { class: 'muted' }, config.issuer),
            h(
              'button',
              { id: 'sign-in', type: 'button', on: { click: run(() => beginSignIn(config)) } },
              'Sign in',
            ),
          )
        : // The IdP sends the browser back to the registered redirect URI: sign in from there.
          h('p', {}, 'Open the console at ', h('a', { href: here.href }, here.href), ' to sign in.');
  } else if (config.signIn === 'dev') {
    body = h(
      'div',
      {},
      h('p', {}, 'Dev auth is on (no AUTH_ISSUER): this machine may sign in as the local admin.'),
      h(
        'button',
        {
          id: 'sign-in-dev',
          type: 'button',
          on: {
            click: run(async () => {
              await devSignIn();
              location.reload();
            }),
          },
        },
        'Sign in with a local admin token',
      ),
    );
  } else {
    body = h(
      'p',
      {},
      'Sign-in is not configured: register the console as a public client at your identity provider and set ',
      h('code', {}, 'ADMIN_CONSOLE_CLIENT_ID'),
      ' (README, "Operate").',
    );
  }
  fill(main, h('section', { class: 'card sign-in' }, h('h2', {}, 'Sign in'), body));
  main.dataset.view = 'sign-in';
}

start().catch(fail);
