import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createApp } from '../../src/app.factory.js';
import { loadConfig } from '../../src/config/app-config.js';
import { createTestDatabase } from '../utils/database.js';
import { freePort } from '../utils/server-process.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Set to a folder (e.g. docs/img) to save screenshots of the main views there. */
export const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;

export interface ConsoleApp {
  /** `PUBLIC_URL`: the console is at `${baseUrl}/admin/console/` and the IdP sends the browser back there. */
  baseUrl: string;
  close(): Promise<void>;
}

/** A loopback base URL on a free port, to tell an IdP the console's redirect URI before the app starts. */
export async function freeBaseUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}

/**
 * The whole app on a port chosen first, so that PUBLIC_URL (the console's OAuth redirect URI) is the address the
 * browser uses. Embedded database, or a fresh PostgreSQL one when DATABASE_URL is set.
 */
export async function startConsoleApp(env: Record<string, string>, url?: string): Promise<ConsoleApp> {
  const baseUrl = url ?? (await freeBaseUrl());
  const database = await createTestDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'mcp-browser-'));
  const port = Number(new URL(baseUrl).port);
  let app: NestFastifyApplication | undefined;
  const close = async () => {
    await app?.close();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    app = await createApp(
      loadConfig({
        NODE_ENV: 'test',
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        DATA_DIR: dataDir,
        PORT: String(port),
        PUBLIC_URL: baseUrl,
        ...(database.url && { DATABASE_URL: database.url, MIGRATIONS_RUN: 'true' }),
        RATE_LIMIT_AGENT_CONCURRENT: '10000',
        ...env,
      }),
    );
    await app.listen({ port, host: '127.0.0.1' });
  } catch (error) {
    await close();
    throw error;
  }
  return { baseUrl, close };
}

/** Headless Chromium of the system (Debian's `chromium` package), a fresh profile each launch. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A browser tab on the console in a context of its own (fresh storage, as a new operator), collecting every
 * console error, uncaught exception and CSP violation raised on the console's pages.
 */
export async function consoleTab(browser: Browser, origin: string): Promise<ConsoleTab> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  // Fail a step fast: nothing on loopback takes seconds.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && page.url().startsWith(origin))
      errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  return { context, page, errors };
}

export interface ConsoleTab {
  context: BrowserContext;
  page: Page;
  errors: string[];
}
