import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { Tool } from '../../tools/tool.decorator.js';

const EchoInput = z.object({
  text: z.string().max(10_000).describe('Text to send back unchanged'),
});
const EchoOutput = z.object({ text: z.string() });

@Injectable()
export class EchoTools {
  @Tool({
    name: 'echo',
    description:
      'Returns the text it is given. Stateless and idempotent: useful to test connectivity and auth.',
    input: EchoInput,
    output: EchoOutput,
    annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
  })
  echo({ text }: z.infer<typeof EchoInput>): z.infer<typeof EchoOutput> {
    return { text };
  }
}
