import { Module } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service.js';
import { StateService } from './state.service.js';

/**
 * Per-agent state and the idempotency-key store. Knows no transport: the tool pipeline (`tools/`) builds each
 * call's `ctx.state` from `StateService.forAgent()`. Needs the global `AuditRecorder` (AuditModule).
 */
@Module({
  providers: [StateService, IdempotencyService],
  exports: [StateService, IdempotencyService],
})
export class StateModule {}
