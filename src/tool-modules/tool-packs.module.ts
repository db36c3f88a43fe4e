import { DynamicModule, Module, Type } from '@nestjs/common';
import { ConformanceModule } from './conformance/conformance.module.js';
import { CounterModule } from './counter/counter.module.js';
import { EchoModule } from './echo/echo.module.js';
import { StateToolsModule } from './state/state-tools.module.js';
import { TestingModule } from './testing/testing.module.js';

/**
 * The extension point: every tool pack, by name. Add yours here. `TOOL_PACKS` selects which are loaded;
 * packs listed in `OPT_IN_PACKS` load only when named.
 */
export const TOOL_PACKS: Record<string, Type> = {
  echo: EchoModule,
  counter: CounterModule,
  state: StateToolsModule,
  /** Fixtures of the resilience tests (flaky, slow, versioned tools): opt-in, never loaded by default. */
  testing: TestingModule,
  /** Fixtures of the official MCP conformance suite (tools, resources, prompts): opt-in. */
  conformance: ConformanceModule,
};
export const OPT_IN_PACKS: ReadonlySet<string> = new Set(['conformance', 'testing']);

@Module({})
export class ToolPacksModule {
  static forRoot(selected: string[] | undefined): DynamicModule {
    const names = selected ?? Object.keys(TOOL_PACKS).filter((name) => !OPT_IN_PACKS.has(name));
    const unknown = names.filter((name) => !(name in TOOL_PACKS));
    if (unknown.length) {
      throw new Error(
        `TOOL_PACKS: unknown pack(s) ${unknown.join(', ')}; known: ${Object.keys(TOOL_PACKS).join(', ')}`,
      );
    }
    return { module: ToolPacksModule, imports: names.map((name) => TOOL_PACKS[name]) };
  }
}
