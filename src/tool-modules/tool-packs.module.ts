import { DynamicModule, Module, Type } from '@nestjs/common';
import type { PersistenceParts } from '../database/data-source-options.js';
import { ConformanceModule } from './conformance/conformance.module.js';
import { CounterModule } from './counter/counter.module.js';
import { EchoModule } from './echo/echo.module.js';
import { notesPack } from './notes/notes.module.js';
import { StateToolsModule } from './state/state-tools.module.js';
import { TestingModule } from './testing/testing.module.js';

/** A tool pack: its Nest module, and what else it brings from its own folder (docs/extending.md). */
export interface ToolPack extends Partial<PersistenceParts> {
  module: Type;
  /** Loaded only when `TOOL_PACKS` names it, never by default. */
  optIn?: boolean;
}

/**
 * The extension point: every tool pack, by name. Add yours here (one line, plus its import). `TOOL_PACKS` selects
 * which are loaded; opt-in packs load only when named. The entities and migrations of every pack listed here are
 * registered and migrated whether it is loaded or not (src/persistence.ts).
 */
export const TOOL_PACKS: Record<string, ToolPack> = {
  echo: { module: EchoModule },
  counter: { module: CounterModule },
  state: { module: StateToolsModule },
  /** Fixtures of the resilience tests (flaky, slow, versioned tools). */
  testing: { module: TestingModule, optIn: true },
  /** Fixtures of the official MCP conformance suite (tools, resources, prompts). */
  conformance: { module: ConformanceModule, optIn: true },
  /** The example of a pack with its own table, migration and error code (docs/extending.md). */
  notes: notesPack,
};

@Module({})
export class ToolPacksModule {
  static forRoot(selected: string[] | undefined): DynamicModule {
    const names = selected ?? Object.keys(TOOL_PACKS).filter((name) => !TOOL_PACKS[name].optIn);
    const unknown = names.filter((name) => !Object.hasOwn(TOOL_PACKS, name));
    if (unknown.length) {
      throw new Error(
        `TOOL_PACKS: unknown pack(s) ${unknown.join(', ')}; known: ${Object.keys(TOOL_PACKS).join(', ')}`,
      );
    }
    return { module: ToolPacksModule, imports: names.map((name) => TOOL_PACKS[name].module) };
  }
}
