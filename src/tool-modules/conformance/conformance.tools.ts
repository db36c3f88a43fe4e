import { Injectable } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/server';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { DomainError } from '../../common/domain-error.js';
import { Tool } from '../../tools/tool.decorator.js';
import { ask, type InputRequiredAnswer, type ToolContext } from '../../tools/tool.types.js';
import { type FormSchema, RED_PIXEL_PNG, samplingText, SILENT_WAV, text } from './conformance.fixtures.js';

const NoInput = z.object({});
const SamplingInput = z.object({ prompt: z.string().describe('The prompt to send to the LLM') });
const ElicitationInput = z.object({ message: z.string().describe('The message to show the user') });

/** `x-mcp-header` names the `Mcp-Param-<name>` header a parameter is mirrored into (SEP-2243). */
const header = (name: string) => ({ 'x-mcp-header': name });
const CustomHeadersInput = z.object({
  region: z.string().describe('Plain ASCII string value').meta(header('Region')),
  priority: z.number().int().describe('Integer numeric value').meta(header('Priority')),
  verbose: z.boolean().optional().describe('Boolean value').meta(header('Verbose')),
  debug: z.boolean().optional().describe('Boolean true value').meta(header('Debug')),
  empty_val: z.string().optional().describe('Empty string value').meta(header('EmptyVal')),
  method_val: z
    .string()
    .optional()
    .describe('Mirrored as Mcp-Param-Method (not Mcp-Method)')
    .meta(header('Method')),
  float_val: z.number().optional().describe('Floating point value, not mirrored'),
  non_ascii_val: z.string().optional().describe('Non-ASCII: Base64 in its header').meta(header('NonAscii')),
  whitespace_val: z
    .string()
    .optional()
    .describe('Leading/trailing whitespace: Base64')
    .meta(header('Whitespace')),
  leading_space_val: z.string().optional().describe('Leading space: Base64').meta(header('LeadingSpace')),
  trailing_space_val: z.string().optional().describe('Trailing space: Base64').meta(header('TrailingSpace')),
  internal_space_val: z.string().optional().describe('Internal spaces: plain').meta(header('InternalSpace')),
  control_char_val: z.string().optional().describe('Control characters: Base64').meta(header('ControlChar')),
  crlf_val: z.string().optional().describe('CR and LF: Base64').meta(header('CrLf')),
  tab_val: z.string().optional().describe('Leading tab: Base64').meta(header('Tab')),
  query: z.string().describe('Not mirrored'),
});
const CustomHeadersNullInput = z.object({
  region: z.string().describe('Plain ASCII string value').meta(header('Region')),
  priority: z.number().int().describe('Integer numeric value').meta(header('Priority')),
  verbose: z.boolean().nullable().optional().describe('Null or omitted: no header').meta(header('Verbose')),
  query: z.string().describe('Not mirrored'),
});

/**
 * SEP-1613 and SEP-2106: a schema using JSON Schema 2020-12 keywords, advertised verbatim (`$schema`, `$defs` with
 * an `$anchor`, `$ref`, `allOf`/`anyOf`, `if`/`then`/`else`). The zod schema validates the same: a phone number
 * when the contact method is the phone, an email otherwise.
 */
const Address = z.object({ street: z.string(), city: z.string() }).partial();
const JsonSchema2020Input = z
  .strictObject({
    name: z.string().optional(),
    address: Address.optional(),
    contactMethod: z.enum(['phone', 'email']).optional(),
    phone: z.string().optional(),
    email: z.string().optional(),
  })
  .refine((input) => (input.contactMethod === 'phone' ? input.phone : input.email) !== undefined, {
    message: 'phone is required when contactMethod is "phone", email otherwise',
  });
const JSON_SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'addressDef',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
};

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
    await logThreeSteps(ctx);
    return text('Tool with logging executed successfully');
  }

  /** 2026-07-28 (server-stateless): logs reach the client only when the request asked for a log level. */
  @Tool({
    name: 'test_logging_tool',
    description: 'Sends three info log messages while it runs (delivered only at the requested log level)',
    input: NoInput,
  })
  async loggingTool(_input: object, ctx: ToolContext): Promise<CallToolResult> {
    await logThreeSteps(ctx);
    return text('Logging tool executed successfully');
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

  /**
   * The 2025-11-25 sampling and elicitation fixtures ask with `ctx.inputRequired()` like any tool: on a 2025
   * session the SDK turns the answer into a real server→client request and calls the handler again with the reply.
   */
  @Tool({
    name: 'test_sampling',
    description: "Asks the client's LLM (sampling/createMessage) and returns its answer",
    input: SamplingInput,
  })
  sampling(
    { prompt }: z.infer<typeof SamplingInput>,
    ctx: ToolContext,
  ): CallToolResult | InputRequiredAnswer {
    const answer = ctx.input.response('llm');
    if (answer.kind === 'sampling') return text(`LLM response: ${samplingText(answer)}`);
    return ctx.inputRequired({
      requests: {
        llm: ask.createMessage({
          messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
          maxTokens: 100,
        }),
      },
    });
  }

  @Tool({
    name: 'test_elicitation',
    description: 'Asks the user for a username and an email (elicitation/create)',
    input: ElicitationInput,
  })
  elicitation(
    { message }: z.infer<typeof ElicitationInput>,
    ctx: ToolContext,
  ): CallToolResult | InputRequiredAnswer {
    return elicitOnce(ctx, 'User response', message, {
      type: 'object',
      properties: {
        username: { type: 'string', description: "User's response" },
        email: { type: 'string', description: "User's email address" },
      },
      required: ['username', 'email'],
    });
  }

  @Tool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicitation whose fields all have default values (SEP-1034)',
    input: NoInput,
  })
  elicitationDefaults(_input: object, ctx: ToolContext): CallToolResult | InputRequiredAnswer {
    return elicitOnce(
      ctx,
      'Elicitation completed',
      'Please review and update the form fields with defaults',
      {
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
    );
  }

  @Tool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicitation with the five enum schema variants (SEP-1330)',
    input: NoInput,
  })
  elicitationEnums(_input: object, ctx: ToolContext): CallToolResult | InputRequiredAnswer {
    return elicitOnce(ctx, 'Elicitation completed', 'Please select options from the enum fields', {
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
    });
  }

  /**
   * SEP-2243: parameters mirrored into `Mcp-Param-*` headers (`x-mcp-header`), the shape of the suite's own
   * client fixture; the server checks each header against the body (http-custom-header-server-validation).
   */
  @Tool({
    name: 'test_custom_headers',
    description: 'Echoes its arguments; the annotated ones travel as Mcp-Param-* headers too (SEP-2243)',
    input: CustomHeadersInput,
  })
  customHeaders(input: z.infer<typeof CustomHeadersInput>): CallToolResult {
    return text(`Received: ${JSON.stringify(input)}`);
  }

  @Tool({
    name: 'test_custom_headers_null',
    description: 'Echoes its arguments; a null or omitted annotated parameter sends no header (SEP-2243)',
    input: CustomHeadersNullInput,
  })
  customHeadersNull(input: z.infer<typeof CustomHeadersNullInput>): CallToolResult {
    return text(`Received: ${JSON.stringify(input)}`);
  }
}

async function logThreeSteps(ctx: ToolContext): Promise<void> {
  await ctx.log('info', 'Tool execution started');
  await sleep(50, undefined, { signal: ctx.signal });
  await ctx.log('info', 'Tool processing data');
  await sleep(50, undefined, { signal: ctx.signal });
  await ctx.log('info', 'Tool execution completed');
}

/** Asks one form elicitation, then reports the user's answer (whatever the action) as `<label>: action=…`. */
function elicitOnce(
  ctx: ToolContext,
  label: string,
  message: string,
  requestedSchema: FormSchema,
): CallToolResult | InputRequiredAnswer {
  const answer = ctx.input.response('form');
  if (answer.kind === 'elicit')
    return text(`${label}: action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
  return ctx.inputRequired({ requests: { form: ask.elicit({ message, requestedSchema }) } });
}
