import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CircuitBreakers } from './circuit-breakers.service.js';
import { ToolSwitchEntity } from './tool-switch.entity.js';
import { ToolSwitchService } from './tool-switch.service.js';

/** Per-tool circuit breakers (in memory, per replica) and the runtime kill switch (PostgreSQL). */
@Module({
  imports: [TypeOrmModule.forFeature([ToolSwitchEntity])],
  providers: [CircuitBreakers, ToolSwitchService],
  exports: [CircuitBreakers, ToolSwitchService],
})
export class ResilienceModule {}
