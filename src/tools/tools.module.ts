import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { PermissionsModule } from '../permissions/permissions.module.js';
import { StateModule } from '../state/state.module.js';
import { ResilienceModule } from '../resilience/resilience.module.js';
import { AuditStep } from './steps/audit.step.js';
import { AuthorizationStep } from './steps/authorization.step.js';
import { BreakerStep } from './steps/breaker.step.js';
import { IdempotencyStep } from './steps/idempotency.step.js';
import { InputStep } from './steps/input.step.js';
import { InputRounds } from './input-rounds.js';
import { LoggingStep } from './steps/logging.step.js';
import { ResolveFeatureStep } from './steps/resolve-feature.step.js';
import { ResolveStep } from './steps/resolve.step.js';
import { RetryStep } from './steps/retry.step.js';
import { TimeoutStep } from './steps/timeout.step.js';
import { ValidationStep } from './steps/validation.step.js';
import { ToolInvoker } from './tool-invoker.service.js';
import { ToolRegistry } from './tool-registry.service.js';
import { PromptRegistry } from './prompt-registry.service.js';
import { ResourceRegistry } from './resource-registry.service.js';
import { ResourceSubscriptions } from './resource-subscriptions.service.js';
import { ChangeFeed, ChangeNotifier } from './change-feed.service.js';
import { RequestStateCodec } from './request-state.js';

@Module({
  imports: [DiscoveryModule, PermissionsModule, StateModule, ResilienceModule],
  providers: [
    ToolRegistry,
    ResourceRegistry,
    PromptRegistry,
    ResourceSubscriptions,
    ChangeFeed,
    { provide: ChangeNotifier, useExisting: ChangeFeed },
    RequestStateCodec,
    ToolInvoker,
    LoggingStep,
    AuditStep,
    ResolveStep,
    ResolveFeatureStep,
    AuthorizationStep,
    InputStep,
    InputRounds,
    ValidationStep,
    IdempotencyStep,
    BreakerStep,
    TimeoutStep,
    RetryStep,
  ],
  exports: [
    ToolRegistry,
    ResourceRegistry,
    PromptRegistry,
    ResourceSubscriptions,
    ChangeFeed,
    ChangeNotifier,
    RequestStateCodec,
    ToolInvoker,
    InputRounds,
    PermissionsModule,
    ResilienceModule,
  ],
})
export class ToolsModule {}
