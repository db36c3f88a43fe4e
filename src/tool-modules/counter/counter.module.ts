import { Module } from '@nestjs/common';
import { CounterTools } from './counter.tools.js';

/** Tool pack `counter`: per-agent counters on `ctx.state` with optimistic locking and conflict retry. */
@Module({ providers: [CounterTools] })
export class CounterModule {}
