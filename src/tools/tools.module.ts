import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { LoggingStep } from './steps/logging.step.js';
import { ResolveStep } from './steps/resolve.step.js';
import { ValidationStep } from './steps/validation.step.js';
import { ToolInvoker } from './tool-invoker.service.js';
import { ToolRegistry } from './tool-registry.service.js';

@Module({
  imports: [DiscoveryModule],
  providers: [ToolRegistry, ToolInvoker, LoggingStep, ResolveStep, ValidationStep],
  exports: [ToolRegistry, ToolInvoker],
})
export class ToolsModule {}
