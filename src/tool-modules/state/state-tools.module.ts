import { Module } from '@nestjs/common';
import { StateTools } from './state.tools.js';

/** Tool pack `state`: `state.get`, `state.set`, `state.delete`, `state.list` on the caller's own state. */
@Module({ providers: [StateTools] })
export class StateToolsModule {}
