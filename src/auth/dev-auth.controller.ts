import { Controller, Get, Header } from '@nestjs/common';
import type { JSONWebKeySet } from 'jose';
import { DomainError } from '../common/domain-error.js';
import { DevAuthService } from './dev-auth.service.js';
import { Public } from './public.decorator.js';

/** Dev auth's public key (`$PUBLIC_URL/dev-auth/jwks.json`); 404 when an external IdP is configured. */
@Public()
@Controller('dev-auth')
export class DevAuthController {
  constructor(private readonly devAuth: DevAuthService) {}

  @Get('jwks.json')
  @Header('cache-control', 'public, max-age=300')
  jwks(): JSONWebKeySet {
    if (!this.devAuth.enabled) throw new DomainError('NOT_FOUND', 'Dev auth is off');
    return { keys: [this.devAuth.key.publicJwk] };
  }
}
