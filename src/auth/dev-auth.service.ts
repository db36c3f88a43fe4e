import { Injectable, OnModuleInit } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { loadOrCreateDevKey, type DevSigningKey } from './dev-keys.js';

/** Dev auth's key, loaded (or made) at boot when `auth.mode` is `dev`, with a warning nobody can miss. */
@Injectable()
export class DevAuthService implements OnModuleInit {
  private signingKey?: DevSigningKey;

  constructor(
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext('auth');
  }

  async onModuleInit(): Promise<void> {
    if (this.config.auth.mode !== 'dev') return;
    // loadConfig refuses this combination already; this is the second lock on the door.
    if (this.config.env === 'production')
      throw new Error('AUTH_ISSUER: dev auth is never used in production');
    this.signingKey = await loadOrCreateDevKey(this.config.auth.devKeyDir);
    this.logger.warn(
      { issuer: this.config.auth.issuer, keyDir: this.config.auth.devKeyDir },
      '*** DEV AUTH IS ON: no AUTH_ISSUER is set, so this server trusts tokens signed by the local dev key ' +
        '(mint them with `npm run token`). Never expose it; set AUTH_ISSUER to your identity provider. ***',
    );
  }

  get enabled(): boolean {
    return this.signingKey !== undefined;
  }

  get key(): DevSigningKey {
    if (!this.signingKey) throw new Error('dev auth is not enabled');
    return this.signingKey;
  }
}
