import { Injectable } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error.js';
import { Tool } from '../../tools/tool.decorator.js';
import type { ToolContext } from '../../tools/tool.types.js';
import { RED_PIXEL_PNG, SILENT_WAV } from './conformance.fixtures.js';

const NoInput = z.object({});
const SamplingInput = z.object({ prompt: z.string().describe('The prompt to send to the LLM') });
const ElicitationInput = z.object({ message: z.string().describe('The message to show the user') });

/** SEP-1613: a schema using JSON Schema 2020-12 keywords, advertised verbatim (`$schema`, `$defs`, `$ref`). */
const Address = z.object({ street: z.string(), city: z.string() }).partial();
const JsonSchema2020Input = z.strictObject({ name: z.string().optional(), address: Address.optional() });
const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
  },
  additionalProperties: false,
};

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/**
 * The tools the official MCP conformance suite (`@modelcontextprotocol/conformance`, server scenarios) calls,
 * with the exact names and results it expects. Opt-in pack `conformance`: loaded only when TOOL_PACKS names it.
 */
@Injectable()
export class ConformanceTools {
  @Tool({ name: 'test_simple_text', description: 'Returns a fixed text', input: NoInput })
  simpleText(): CallToolResult {
    return text('This is a simple text response for testing.');
  }

  @Tool({ name: 'test_image_content', description: 'Returns a 1x1 red PNG', input: NoInput })
  imageContent(): CallToolResult {
    return { content: [{ type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' }] };
  }

  @Tool({ name: 'test_audio_content', description: 'Returns a short silent WAV', input: NoInput })
  audioContent(): CallToolResult {
    return { content: [{ type: 'audio', data: SILENT_WAV, mimeType: 'audio/wav' }] };
  }

  @Tool({ name: 'test_embedded_resource', description: 'Returns an embedded text resource', input: NoInput })
  embeddedResource(): CallToolResult {
    return {
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    };
  }

  @Tool({
    name: 'test_multiple_content_types',
    description: 'Returns text, an image and an embedded resource',
    input: NoInput,
  })
  multipleContentTypes(): CallToolResult {
    return {
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    };
  }

  @Tool({
    name: 'test_tool_with_logging',
    description: 'Sends three info log messages while it runs',
    input: NoInput,
  })
  async withLogging(_input: object, ctx: ToolContext): Promise<CallToolResult> {
    await ctx.log('info', 'Tool execution started');
    await sleep(50, undefined, { signal: ctx.signal });
    await ctx.log('info', 'Tool processing data');
    await sleep(50, undefined, { signal: ctx.signal });
    await ctx.log('info', 'Tool execution completed');
    return text('Tool with logging executed successfully');
  }

  @Tool({
    name: 'test_reconnection',
    description: 'Ends its SSE stream mid-call; the client reconnects (Last-Event-ID) and gets the result',
    input: NoInput,
  })
  async reconnection(_input: object, ctx: ToolContext): Promise<CallToolResult> {
    ctx.closeStream();
    await sleep(100, undefined, { signal: ctx.signal });
    return text('Reconnection test completed');
  }

  @Tool({
    name: 'test_tool_with_progress',
    description: 'Reports progress 0, 50 and 100 of 100 when the request has a progress token',
    input: NoInput,
  })
  async withProgress(_input: object, ctx: ToolContext): Promise<CallToolResult> {
    await ctx.progress(0, 100);
    await sleep(50, undefined, { signal: ctx.signal });
    await ctx.progress(50, 100);
    await sleep(50, undefined, { signal: ctx.signal });
    await ctx.progress(100, 100);
    return text('Tool with progress executed successfully');
  }

  @Tool({
    name: 'test_error_handling',
    description: 'Always fails (a tool error, isError: true)',
    input: NoInput,
    breaker: { failures: 1_000_000 },
  })
  errorHandling(): never {
    throw new DomainError('TOOL_FAILED', 'This tool intentionally returns an error for testing');
  }

  @Tool({
    name: 'json_schema_2020_12_tool',
    description: 'Tool with JSON Schema 2020-12 features',
    input: JsonSchema2020Input,
    inputJsonSchema: JSON_SCHEMA_2020_12,
  })
  jsonSchema2020(input: z.infer<typeof JsonSchema2020Input>): CallToolResult {
    return text(`Received: ${JSON.stringify(input)}`);
  }

  @Tool({
    name: 'test_sampling',
    description: "Asks the client's LLM (sampling/createMessage) and returns its answer",
    input: SamplingInput,
  })
  async sampling({ prompt }: z.infer<typeof SamplingInput>, ctx: ToolContext): Promise<CallToolResult> {
    const result = await ctx.sample({
      messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
      maxTokens: 100,
    });
    const { content } = result;
    return text(`LLM response: ${content.type === 'text' ? content.text : JSON.stringify(content)}`);
  }

  @Tool({
    name: 'test_elicitation',
    description: 'Asks the user for a username and an email (elicitation/create)',
    input: ElicitationInput,
  })
  async elicitation(
    { message }: z.infer<typeof ElicitationInput>,
    ctx: ToolContext,
  ): Promise<CallToolResult> {
    const result = await ctx.elicit({
      message,
      requestedSchema: {
        type: 'object',
        properties: {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        required: ['username', 'email'],
      },
    });
    return text(`User response: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`);
  }

  @Tool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicitation whose fields all have default values (SEP-1034)',
    input: NoInput,
  })
  async elicitationDefaults(_input: object, ctx: ToolContext): Promise<CallToolResult> {
    const result = await ctx.elicit({
      message: 'Please review and update the form fields with defaults',
      requestedSchema: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'User name', default: 'John Doe' },
          age: { type: 'integer', description: 'User age', default: 30 },
          score: { type: 'number', description: 'User score', default: 95.5 },
          status: {
            type: 'string',
            description: 'User status',
            enum: ['active', 'inactive', 'pending'],
            default: 'active',
          },
          verified: { type: 'boolean', description: 'Verification status', default: true },
        },
      },
    });
    return text(
      `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
    );
  }

  @Tool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicitation with the five enum schema variants (SEP-1330)',
    input: NoInput,
  })
  async elicitationEnums(_input: object, ctx: ToolContext): Promise<CallToolResult> {
    const result = await ctx.elicit({
      message: 'Please select options from the enum fields',
      requestedSchema: {
        type: 'object',
        properties: {
          untitledSingle: {
            type: 'string',
            description: 'Untitled single-select',
            enum: ['option1', 'option2', 'option3'],
          },
          titledSingle: {
            type: 'string',
            description: 'Titled single-select',
            oneOf: [
              { const: 'value1', title: 'First Option' },
              { const: 'value2', title: 'Second Option' },
              { const: 'value3', title: 'Third Option' },
            ],
          },
          legacyEnum: {
            type: 'string',
            description: 'Legacy titled enum',
            enum: ['opt1', 'opt2', 'opt3'],
            enumNames: ['Option One', 'Option Two', 'Option Three'],
          },
          untitledMulti: {
            type: 'array',
            description: 'Untitled multi-select',
            items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
          },
          titledMulti: {
            type: 'array',
            description: 'Titled multi-select',
            items: {
              anyOf: [
                { const: 'value1', title: 'First Choice' },
                { const: 'value2', title: 'Second Choice' },
                { const: 'value3', title: 'Third Choice' },
              ],
            },
          },
        },
      },
    });
    return text(
      `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`,
    );
  }
}
