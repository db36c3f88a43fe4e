import { Injectable } from '@nestjs/common';
import { MetricsService, UNKNOWN_TOOL_LABEL } from '../../metrics/metrics.service.js';
import { Tracing } from '../../metrics/tracing.js';
import { argumentsDigest, resultBytes } from '../call-size.js';
import { callOutcome } from '../tool-errors.js';
import type { ToolInvocation, ToolStep } from '../tool-pipeline.js';
import type { ToolResult } from '../tool.types.js';

/**
 * Outermost step, the one place that times a call (of every kind): one log line with its outcome (ctx.logger carries request
 * id, agent and tool), the tool-call metrics, and (tracing on) a span around the rest of the pipeline.
 */
@Injectable()
export class LoggingStep implements ToolStep {
  constructor(
    private readonly metrics: MetricsService,
    private readonly tracing: Tracing,
  ) {}

  async run(invocation: ToolInvocation, next: () => Promise<ToolResult>): Promise<ToolResult> {
    const { call, ctx } = invocation;
    const started = performance.now();
    const span = this.tracing.startToolSpan(call.name, {
      'mcp.tool.name': call.name,
      'mcp.agent.id': ctx.principal.agentId,
      'mcp.request_id': ctx.requestId,
    });
    const finish = (ending: { result: ToolResult } | { error: unknown }) => {
      const seconds = (performance.now() - started) / 1000;
      const { outcome, errorCode } = callOutcome(ending, invocation.kind);
      ctx.logger.info({ outcome, errorCode, durationMs: Math.round(seconds * 100_000) / 100 }, 'tool call');
      // Only registered tools and features (their grant keys) become label values; unknown names are
      // attacker-chosen.
      const tool = invocation.tool;
      this.metrics.toolCall({
        tool: tool?.name ?? (invocation.feature?.target ? call.name : UNKNOWN_TOOL_LABEL),
        version: tool?.version ?? '',
        outcome,
        seconds,
        paramBytes: argumentsDigest(call).bytes,
        resultBytes: 'result' in ending ? resultBytes(ending.result) : undefined,
      });
      span?.end(
        {
          'mcp.tool.version': tool?.version ?? '',
          'mcp.outcome': outcome,
          ...(errorCode && { 'mcp.error_code': errorCode }),
        },
        outcome === 'error',
      );
    };
    try {
      const result = await (span ? span.run(next) : next());
      finish({ result });
      return result;
    } catch (error) {
      finish({ error });
      throw error;
    }
  }
}
