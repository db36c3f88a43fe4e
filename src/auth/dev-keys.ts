import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import type { AppConfig } from '../config/app-config.js';

/**
 * Dev auth (no `AUTH_ISSUER`, never in production): one ES256 key pair, made on first use and kept in
 * `$DATA_DIR/dev-auth/signing-key.json` (mode 0600), signs the tokens `npm run token` mints. The server verifies
 * them on the very same path as an IdP's tokens; only the key source differs (this file instead of a JWKS URL).
 */
export interface DevSigningKey {
  kid: string;
  alg: 'ES256';
  privateKey: CryptoKey;
  /** The public half as published at `GET /dev-auth/jwks.json`. */
  publicJwk: JWK;
}

const KEY_FILE = 'signing-key.json';

export async function loadOrCreateDevKey(dir: string): Promise<DevSigningKey> {
  const file = join(dir, KEY_FILE);
  let stored = await readKeyFile(file);
  if (!stored) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    const created = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'ES256', use: 'sig' };
    // Written aside, then linked into place: a concurrent starter (the server and the CLI) never reads half a
    // file, and the first key made wins (link fails if the file exists).
    const temp = `${file}.${randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(created, null, 2), { mode: 0o600 });
    try {
      await link(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(temp);
    }
    stored = await readKeyFile(file);
    if (!stored) throw new Error(`dev auth: cannot read ${file}`);
  }
  const { d: _private, ...publicJwk } = stored;
  return {
    kid: stored.kid!,
    alg: 'ES256',
    privateKey: (await importJWK(stored, 'ES256')) as CryptoKey,
    publicJwk,
  };
}

async function readKeyFile(file: string): Promise<JWK | undefined> {
  try {
    const jwk = JSON.parse(await readFile(file, 'utf8')) as JWK;
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.d || !jwk.kid) {
      throw new Error(`dev auth: ${file} is not an ES256 private key; delete it to make a new one`);
    }
    return jwk;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface DevTokenRequest {
  agent: string;
  scopes: readonly string[];
  /** Lifetime in seconds. */
  ttlSeconds: number;
}

/** An RFC 9068 access token for this server's resource, signed by the dev key. */
export async function mintDevToken(
  auth: AppConfig['auth'],
  key: DevSigningKey,
  request: DevTokenRequest,
): Promise<string> {
  return new SignJWT({
    [auth.agentClaim]: request.agent,
    client_id: 'dev-cli',
    scope: request.scopes.join(' '),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .setIssuer(auth.issuer)
    .setAudience(auth.audiences[0])
    .setSubject(request.agent)
    .setIssuedAt()
    .setExpirationTime(`${request.ttlSeconds}s`)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

const TTL = /^(\d+)\s*(s|m|h|d)?$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** `90`, `90s`, `15m`, `1h`, `7d` → seconds. At most 30 days. */
export function parseTtl(value: string): number {
  const match = TTL.exec(value.trim());
  const seconds = match
    ? Number(match[1]) * UNIT_SECONDS[(match[2] ?? 's') as keyof typeof UNIT_SECONDS]
    : NaN;
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > 30 * 86400) {
    throw new Error(`invalid --ttl "${value}": use e.g. 90s, 15m, 1h or 7d (at most 30d)`);
  }
  return seconds;
}
