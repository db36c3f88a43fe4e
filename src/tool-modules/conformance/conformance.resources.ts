import { Injectable } from '@nestjs/common';
import type { GetPromptResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { Prompt } from '../../tools/prompt.decorator.js';
import { Resource } from '../../tools/resource.decorator.js';
import type { FeatureContext, ResourceBody } from '../../tools/resource-prompt.types.js';
import { ask, type InputRequiredAnswer } from '../../tools/tool.types.js';
import { RED_PIXEL_PNG } from './conformance.fixtures.js';

const PromptArgs = z.object({
  arg1: z.string().describe('First test argument'),
  arg2: z.string().describe('Second test argument'),
});
const EmbeddedResourceArgs = z.object({
  resourceUri: z.string().describe('URI of the resource to embed'),
});

const PromptContextAnswer = z.object({ context: z.string() });

/** Values `completion/complete` offers for `test_prompt_with_arguments`'s `arg1` (prefix match). */
const ARG1_VALUES = ['paris', 'park', 'party', 'test', 'testing', 'tested'];

/** The resources and prompts the official MCP conformance suite's server scenarios read and get. */
@Injectable()
export class ConformanceResources {
  @Resource({
    name: 'test_static_text',
    uri: 'test://static-text',
    description: 'A static text resource',
    mimeType: 'text/plain',
  })
  staticText(): string {
    return 'This is the content of the static text resource.';
  }

  @Resource({
    name: 'test_static_binary',
    uri: 'test://static-binary',
    description: 'A static binary resource (a 1x1 PNG)',
    mimeType: 'image/png',
  })
  staticBinary(): ResourceBody {
    return { blob: RED_PIXEL_PNG };
  }

  @Resource({
    name: 'test_watched_resource',
    uri: 'test://watched-resource',
    description: 'A resource clients may subscribe to',
    mimeType: 'text/plain',
  })
  watched(): string {
    return 'Watched resource content.';
  }

  @Resource({
    name: 'test_template',
    uriTemplate: 'test://template/{id}/data',
    description: 'A resource template: {id} is substituted',
    mimeType: 'application/json',
    complete: { id: (value) => ['123', '456', '789'].filter((id) => id.startsWith(value)) },
  })
  template(_uri: URL, { id }: Record<string, string>): string {
    return JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` });
  }

  @Prompt({ name: 'test_simple_prompt', description: 'A prompt without arguments' })
  simplePrompt(): string {
    return 'This is a simple prompt for testing.';
  }

  @Prompt({
    name: 'test_prompt_with_arguments',
    description: 'A prompt with two required arguments',
    args: PromptArgs,
    complete: { arg1: (value) => ARG1_VALUES.filter((v) => v.startsWith(value)) },
  })
  withArguments({ arg1, arg2 }: z.infer<typeof PromptArgs>): string {
    return `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`;
  }

  @Prompt({
    name: 'test_prompt_with_embedded_resource',
    description: 'A prompt that embeds a resource',
    args: EmbeddedResourceArgs,
  })
  withEmbeddedResource({ resourceUri }: z.infer<typeof EmbeddedResourceArgs>): GetPromptResult['messages'] {
    return [
      {
        role: 'user',
        content: {
          type: 'resource',
          resource: {
            uri: resourceUri,
            mimeType: 'text/plain',
            text: 'Embedded resource content for testing.',
          },
        },
      },
      { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
    ];
  }

  @Prompt({ name: 'test_prompt_with_image', description: 'A prompt with an image' })
  withImage(): GetPromptResult['messages'] {
    return [
      { role: 'user', content: { type: 'image', data: RED_PIXEL_PNG, mimeType: 'image/png' } },
      { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
    ];
  }

  /** SEP-2322 beyond tools/call: a prompt that asks the user for input before it can be rendered. */
  @Prompt({
    name: 'test_input_required_result_prompt',
    description: 'Asks the user for a context (input-required elicitation), then renders a prompt with it',
  })
  inputRequiredPrompt(_args: object, ctx: FeatureContext): GetPromptResult['messages'] | InputRequiredAnswer {
    const answer = ctx.input.accepted('user_context', PromptContextAnswer);
    if (!answer)
      return ctx.inputRequired({
        requests: {
          user_context: ask.elicit({
            message: 'What context should the prompt use?',
            requestedSchema: {
              type: 'object',
              properties: { context: { type: 'string' } },
              required: ['context'],
            },
          }),
        },
      });
    return [
      { role: 'user', content: { type: 'text', text: `Answer using this context: ${answer.context}` } },
    ];
  }
}
