import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { databaseKind } from '../utils/database.js';
import { connectClient, toolError } from '../utils/mcp-client.js';
import { ConsoleAuthorizationServer } from './authorization-server.js';
import {
  consoleTab,
  freeBaseUrl,
  launchChromium,
  SCREENSHOTS,
  startConsoleApp,
  type ConsoleApp,
  type ConsoleTab,
} from './harness.js';

/**
 * The admin console in real Chromium, against the real app and a real authorization server (oidc-provider):
 * sign-in with code + PKCE, every view, the read-only role, hostile strings. Each flow asserts what the DOM shows,
 * and every tab must end without a console error, an uncaught exception or a CSP violation on the console.
 */

const CLIENT_ID = 'mcp-console';
const HOSTILE_AGENT = '<img src=x onerror=window.__xss=1>';
const HOSTILE_REASON = '<script>window.__xss=2</script>"><svg onload=window.__xss=3>';
const HOSTILE_ARGUMENT = '<img src=x onerror=window.__xss=4>';
const HOSTILE_CALLER = '"><img src=x onerror=window.__xss=5>';

type Json = Record<string, unknown>;

describe(`admin console in Chromium, signed in through oidc-provider (${databaseKind})`, () => {
  let app: ConsoleApp;
  let idp: ConsoleAuthorizationServer;
  let browser: Browser;
  let resource: string;
  const tabs: ConsoleTab[] = [];

  beforeAll(async () => {
    // The IdP must know the console's redirect URI, which holds the app's port: the port is chosen first.
    const baseUrl = await freeBaseUrl();
    resource = `${baseUrl}/mcp`;
    idp = await ConsoleAuthorizationServer.start({
      clientId: CLIENT_ID,
      redirectUri: `${baseUrl}/admin/console/`,
      resource,
    });
    app = await startConsoleApp(
      {
        AUTH_ISSUER: idp.issuer,
        ADMIN_CONSOLE_CLIENT_ID: CLIENT_ID,
        // Raw arguments in the audit detail: one more place for hostile strings to show up.
        AUDIT_RAW_ARGUMENTS: 'true',
      },
      baseUrl,
    );
    browser = await launchChromium();
  });

  afterEach(async () => {
    for (const tab of tabs.splice(0)) {
      await tab.context.close();
      expect(tab.errors).toEqual([]);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await idp?.close();
  });

  /** A fresh browser context on the console, signed in at the IdP's login form as `account`. */
  async function signIn(account: string): Promise<Page> {
    const tab = await consoleTab(browser, app.baseUrl);
    tabs.push(tab);
    const { page } = tab;
    await page.goto(`${app.baseUrl}/admin/console/`);
    await page.locator('#sign-in').waitFor();
    expect(await page.locator('#nav').isVisible()).toBe(false);
    await page.click('#sign-in');
    await page.waitForURL(`${idp.issuer}/**`);
    await page.fill('input[name=login]', account);
    await page.fill('input[name=password]', 'any password');
    await page.click('button[type=submit]');
    await page.waitForURL(`${app.baseUrl}/admin/console/**`);
    await page.locator('#who-agent', { hasText: account }).waitFor();
    return page;
  }

  // Page-side code is passed as strings: this project's TypeScript has no DOM types.
  const tokenOf = (page: Page) =>
    page.evaluate<string>("JSON.parse(sessionStorage.getItem('mcp-console.token')).token");

  async function api(token: string, method: string, path: string, body?: unknown) {
    const res = await fetch(`${app.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      body: res.headers.get('content-type')?.includes('json') ? await res.json() : null,
    };
  }

  /** `agent` calls echo over MCP with a token of the IdP (as many times as texts are given). */
  async function callEcho(agent: string, ...texts: unknown[]) {
    const token = await idp.agentToken(agent, 'tool:echo');
    const client = await connectClient(new URL('/mcp', app.baseUrl), { authorization: `Bearer ${token}` });
    try {
      const results = [];
      for (const text of texts) {
        results.push(
          await client.callTool({ name: 'echo', arguments: { text } }).catch((error: Error) => error),
        );
      }
      return results;
    } finally {
      await client.close();
    }
  }

  const cells = (page: Page, row: string) => page.locator(row).locator('td').allInnerTexts();

  it('signs in with authorization code + PKCE at the IdP; the code leaves the URL; the token stays in the tab', async () => {
    const page = await signIn('ops-admin');
    expect(await page.locator('#who-role').innerText()).toBe('admin');
    expect(new URL(page.url()).search).toBe('');
    expect(
      await page.evaluate(
        '({ session: Object.keys(sessionStorage), local: localStorage.length, cookies: document.cookie })',
      ),
    ).toEqual({ session: ['mcp-console.token'], local: 0, cookies: '' });
    const claims = JSON.parse(
      Buffer.from((await tokenOf(page)).split('.')[1], 'base64url').toString(),
    ) as Json;
    expect(claims).toMatchObject({
      iss: idp.issuer,
      sub: 'ops-admin',
      client_id: CLIENT_ID,
      aud: resource,
      scope: 'mcp:admin mcp:admin:read',
    });
    await page.locator('#grants-list table').waitFor();
  });

  it('creates a grant and lists it, naming the audit row of the action', async () => {
    const page = await signIn('ops-admin');
    await page.fill('#grant-create input[name=agentId]', 'agent-7');
    await page.selectOption('#grant-create select[name=kind]', 'tool');
    await page.fill('#grant-create input[name=name]', 'echo');
    await page.click('#grant-create button[type=submit]');
    const reference = page.locator('#notice .audit-ref');
    await reference.waitFor();
    expect(await page.locator('#notice').innerText()).toContain('Granted echo to agent-7');
    const auditId = await reference.getAttribute('data-audit-id');
    expect(auditId).toMatch(/^\d+$/);

    const row = '#grants-list tbody tr:has(td.agent:text-is("agent-7"))';
    await page.locator(row).waitFor();
    expect(await cells(page, row)).toEqual([
      'agent-7',
      'echo',
      'any',
      'ops-admin',
      expect.any(String),
      'never',
      'active',
      'Revoke',
    ]);
    // The row the notice names is this grant's, committed with it.
    const audit = await api(await tokenOf(page), 'GET', '/admin/audit?kind=admin&outcome=grant.create');
    const items = (audit.body as { items: { id: string; detail: Json }[] }).items;
    expect(items.find((item) => item.id === auditId)?.detail).toMatchObject({
      agent: 'agent-7',
      tool: 'echo',
    });
    await shot(page, 'grants');
  });

  it("shows an agent's call in the audit view with its columns, and opens the row", async () => {
    const [result] = await callEcho('agent-7', 'hello from agent-7');
    expect(result).toMatchObject({ structuredContent: { text: 'hello from agent-7' } });
    const page = await signIn('ops-admin');
    await page.click('#nav a[data-view=audit]');
    await page.fill('#audit-filter input[name=agent]', 'agent-7');
    await page.selectOption('#audit-filter select[name=kind]', 'tool_call');
    await page.click('#audit-filter button[type=submit]');
    // (Locators, not waitForFunction: that evaluates strings, which the console's CSP rightly forbids.)
    await page
      .locator('#audit-list td.agent:not(:text-is("agent-7"))')
      .first()
      .waitFor({ state: 'detached' });
    const [when, kind, agent, tool, outcome, error, ms, id] = await cells(
      page,
      '#audit-list tbody tr >> nth=0',
    );
    expect({ kind, agent, outcome, error }).toEqual({
      kind: 'tool_call',
      agent: 'agent-7',
      outcome: 'success',
      error: '',
    });
    expect(tool).toMatch(/^echo@\d/);
    expect(when).toMatch(/\d/);
    expect(Number(ms)).toBeGreaterThanOrEqual(0);
    expect(id).toMatch(/^\d+$/);

    await page.click('#audit-list tbody tr >> nth=0');
    const detail = page.locator('#audit-detail');
    await detail.locator('h3', { hasText: `Audit row #${id}` }).waitFor();
    expect(await detail.innerText()).toContain('hello from agent-7'); // the raw arguments (AUDIT_RAW_ARGUMENTS)
    await shot(page, 'audit');
  });

  it('pages the audit trail with its cursor and exports it as JSON Lines', async () => {
    await callEcho('agent-7', ...Array.from({ length: 12 }, (_, i) => `call ${i}`));
    const page = await signIn('ops-admin');
    await page.click('#nav a[data-view=audit]');
    await page.selectOption('#audit-filter select[name=limit]', '10');
    await page.selectOption('#audit-filter select[name=kind]', 'tool_call');
    await page.click('#audit-filter button[type=submit]');
    await page.locator('#audit-list tbody tr:nth-child(10)').waitFor();
    expect(await page.locator('#audit-list tbody tr').count()).toBe(10);
    const ids = () => page.locator('#audit-list tbody tr td.mono').allInnerTexts();
    const first = await ids();
    await page.click('#audit-older');
    const top = (id: string) => page.locator(`#audit-list tbody tr:first-child td.mono:text-is("${id}")`);
    await top(first[0]).waitFor({ state: 'detached' });
    const second = await ids();
    // Newest first, and the second page strictly older than the first.
    expect(Math.max(...second.map(Number))).toBeLessThan(Math.min(...first.map(Number)));
    await page.click('button:text("← Newer")');
    await top(first[0]).waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#audit-export')]);
    expect(download.suggestedFilename()).toBe('audit.jsonl');
    const lines = (await readFile(await download.path(), 'utf8')).trim().split('\n');
    const rows = lines.map((line) => JSON.parse(line) as Json);
    expect(rows.length).toBeGreaterThanOrEqual(13);
    expect(rows.every((row) => row.kind === 'tool_call')).toBe(true);
    expect(rows.map((row) => row.id)).toEqual(expect.arrayContaining([...first, ...second]));
  });

  it("disables a tool: the switch shows with its reason, the agent's call is refused; enabling restores it", async () => {
    const page = await signIn('ops-admin');
    await page.click('#nav a[data-view=tools]');
    const row = page.locator('#tools-list tr[data-tool="echo"]');
    await row.locator('[data-switch=on]').waitFor();
    expect(await row.locator('[data-breaker]').first().getAttribute('data-breaker')).toBe('closed');
    expect(await row.innerText()).toContain('latest');

    await row.locator('input[name=reason]').fill('maintenance window');
    await row.locator('button:text("Disable")').click();
    await row.locator('[data-switch=off]').waitFor();
    expect(await row.innerText()).toMatch(/off\s*maintenance window\s*by ops-admin/);
    expect(await page.locator('#notice').innerText()).toMatch(/Switched off echo\s*audit row #\d+/);
    await shot(page, 'tools');

    const [refused] = await callEcho('agent-7', 'while switched off');
    expect(toolError(refused).code).toBe('TOOL_DISABLED');

    await row.locator('button:text("Enable")').click();
    await row.locator('[data-switch=on]').waitFor();
    expect(await page.locator('#notice').innerText()).toMatch(/Switched on echo\s*audit row #\d+/);
    const [served] = await callEcho('agent-7', 'back on');
    expect(served).toMatchObject({ structuredContent: { text: 'back on' } });
  });

  it("plots this replica's calls, errors, latency and denials per tool, live", async () => {
    await callEcho('agent-7', 'one', 'two', 42); // 42: invalid arguments, an error
    await callEcho('agent-without-grant', 'denied');
    const page = await signIn('ops-admin');
    await page.click('#nav a[data-view=live]');
    await page.locator('#live-charts path[data-series="echo"]:not([data-points="0"])').first().waitFor();
    expect(await page.locator('#live-charts figure').count()).toBe(4);
    expect(await page.locator('#live-replica').innerText()).toContain("this replica's own metrics");
    expect(await page.locator('#live-legend [data-tool="echo"]').innerText()).toMatch(
      /^echo \(\d+ calls, [1-9]\d* errors, [1-9]\d* denials\)$/,
    );
    const captions = await page.locator('#live-charts figcaption').allInnerTexts();
    expect(captions).toEqual([
      'Calls per second',
      'Error rate',
      'Latency p50 (solid) and p99 (dashed)',
      'Denials per second',
    ]);
    await shot(page, 'live');
  });

  it('shows the read-only role everything and no write control; the API refuses its writes (403)', async () => {
    const page = await signIn('reader-rita');
    expect(await page.locator('#who-role').innerText()).toBe('read-only');
    await page.locator('#grants-list td.agent:text-is("agent-7")').first().waitFor();
    expect(await page.locator('#grant-create, #grants-list button').count()).toBe(0);

    await page.click('#nav a[data-view=revocations]');
    await page.locator('#revocations-list table').waitFor();
    expect(await page.locator('#revocation-add').count()).toBe(0);

    await page.click('#nav a[data-view=tools]');
    await page.locator('#tools-list tr[data-tool="echo"]').waitFor();
    expect(await page.locator('#tools-list button, #tools-list form, #tools-list input').count()).toBe(0);

    await page.click('#nav a[data-view=audit]');
    await page.locator('#audit-list tbody tr td.agent').first().waitFor();
    expect(await page.locator('main button:text("Revoke"), main button:text("Disable")').count()).toBe(0);

    const token = await tokenOf(page);
    expect(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())).toMatchObject({
      scope: 'mcp:admin:read',
    });
    const grants = (await api(token, 'GET', '/admin/grants')).body as { id: string }[];
    const writes: [string, string, unknown?][] = [
      ['POST', '/admin/grants', { agentId: 'agent-8', toolName: 'echo' }],
      ['DELETE', `/admin/grants/${grants[0].id}`],
      ['POST', '/admin/token-revocations', { jti: 'reader-was-here' }],
      ['POST', '/admin/tools/echo/disable', { reason: 'reader' }],
      ['POST', '/admin/tools/echo/enable', {}],
    ];
    for (const [method, path, body] of writes) {
      expect({ method, path, status: (await api(token, method, path, body)).status }).toEqual({
        method,
        path,
        status: 403,
      });
    }
  });

  it('renders hostile agent ids, reasons and arguments as inert text', async () => {
    const page = await signIn('ops-admin');
    // Through the console's own form…
    await page.fill('#grant-create input[name=agentId]', HOSTILE_AGENT);
    await page.fill('#grant-create input[name=name]', 'echo');
    await page.click('#grant-create button[type=submit]');
    await page.locator('#notice .audit-ref').waitFor();
    // …and through the API.
    const token = await tokenOf(page);
    expect(
      (await api(token, 'POST', '/admin/grants', { agentId: HOSTILE_CALLER, toolName: 'echo' })).status,
    ).toBe(201);
    const revoke = { jti: 'jti-of-a-hostile-reason', reason: HOSTILE_REASON };
    expect((await api(token, 'POST', '/admin/token-revocations', revoke)).status).toBe(201);
    const disable = { reason: HOSTILE_REASON };
    expect((await api(token, 'POST', '/admin/tools/counter.increment/disable', disable)).status).toBe(200);
    const [echoed] = await callEcho(HOSTILE_CALLER, HOSTILE_ARGUMENT);
    expect(echoed).toMatchObject({ structuredContent: { text: HOSTILE_ARGUMENT } });

    await page.reload();
    await page.locator(`#grants-list td.agent:text-is(${JSON.stringify(HOSTILE_AGENT)})`).waitFor();
    await page.locator(`#grants-list td.agent:text-is(${JSON.stringify(HOSTILE_CALLER)})`).waitFor();

    await page.click('#nav a[data-view=revocations]');
    await page.locator(`#revocations-list td.reason:text-is(${JSON.stringify(HOSTILE_REASON)})`).waitFor();

    await page.click('#nav a[data-view=tools]');
    await page
      .locator(
        `#tools-list tr[data-tool="counter.increment"] .reason:text-is(${JSON.stringify(HOSTILE_REASON)})`,
      )
      .waitFor();

    await page.click('#nav a[data-view=audit]');
    await page.fill('#audit-filter input[name=agent]', HOSTILE_CALLER);
    await page.click('#audit-filter button[type=submit]');
    await page
      .locator(`#audit-list td.agent:text-is(${JSON.stringify(HOSTILE_CALLER)})`)
      .first()
      .waitFor();
    await page.click('#audit-list tbody tr >> nth=0');
    await page.locator('#audit-detail pre', { hasText: HOSTILE_ARGUMENT }).waitFor();

    expect(await page.evaluate('window.__xss')).toBeUndefined();
    // Not one element made from the data: every <img>, <script> or <svg> would be an injection.
    expect(await page.locator('main img, main script, main svg').count()).toBe(0);
    expect(await page.locator('#who-agent').innerText()).toBe('ops-admin');
  });
});

describe(`admin console with dev auth (${databaseKind})`, () => {
  let app: ConsoleApp;
  let browser: Browser;
  beforeAll(async () => {
    app = await startConsoleApp({}); // no AUTH_ISSUER: dev auth
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('signs in with one click as the local admin', async () => {
    const tab = await consoleTab(browser, app.baseUrl);
    const { page } = tab;
    await page.goto(`${app.baseUrl}/admin/console/`);
    await page.click('#sign-in-dev');
    await page.locator('#who-agent', { hasText: 'dev-admin' }).waitFor();
    expect(await page.locator('#who-role').innerText()).toBe('admin');
    await page.locator('#grants-list table').waitFor();
    await page.click('#sign-out');
    await page.locator('#sign-in-dev').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await tab.context.close();
    expect(tab.errors).toEqual([]);
  });
});

/** Screenshots of the main views for the README, when CONSOLE_SCREENSHOTS names a folder (e.g. docs/img). */
async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOTS, `console-${name}.png`) });
}
