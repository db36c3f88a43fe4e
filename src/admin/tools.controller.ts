import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CircuitBreakers } from '../resilience/circuit-breakers.service.js';
import { ToolSwitchService } from '../resilience/tool-switch.service.js';
import { breakerKey } from '../tools/steps/breaker.step.js';
import { ToolRegistry } from '../tools/tool-registry.service.js';
import { AdminScopes } from '../auth/admin-scopes.decorator.js';

@ApiTags('admin')
@ApiBearerAuth()
@Controller('admin/tools')
@AdminScopes()
export class ToolsCatalogController {
  constructor(
    private readonly registry: ToolRegistry,
    private readonly breakers: CircuitBreakers,
    private readonly switches: ToolSwitchService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'The tool catalog: every registered tool with its version, schemas and annotations',
  })
  async list() {
    const switchedOff = await this.switches.list();
    return this.registry.all().map((tool) => ({
      name: tool.name,
      version: tool.version,
      title: tool.title,
      description: tool.description,
      annotations: tool.annotations ?? {},
      inputSchema: tool.inputJsonSchema,
      outputSchema: tool.outputJsonSchema,
      scope: `tool:${tool.name}`,
      latest: this.registry.get(tool.name) === tool,
      deprecated: tool.deprecated && {
        sunset: tool.deprecated.sunset,
        replacement: tool.deprecated.replacement,
      },
      // Breaker state of this replica (breakers are per process).
      breaker: this.breakers.snapshot(breakerKey(tool), tool.breaker),
      disabled: switchedOff.some(
        (s) => s.toolName === tool.name && (s.toolVersion === null || s.toolVersion === tool.version),
      ),
    }));
  }
}
