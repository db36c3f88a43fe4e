import type {
  CallToolResult,
  ElicitRequestFormParams,
  InputResponseView,
} from '@modelcontextprotocol/server';

/** Small shared pieces of the conformance pack: binary fixtures built once at load, and result helpers. */

/** A 1×1 red PNG. */
export const RED_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

/** A valid WAV file: 8 kHz, 8-bit mono PCM, 0.01 s of silence. */
export const SILENT_WAV = silentWav(80);

/** A form elicitation's `requestedSchema` as it goes on the wire. */
export type FormSchema = ElicitRequestFormParams['requestedSchema'];

/** A tool result of one text. */
export const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** The text of a sampling answer (one content block, or several when the client used tools). */
export function samplingText(answer: Extract<InputResponseView, { kind: 'sampling' }>): string {
  const { content } = answer.result;
  const blocks: unknown[] = Array.isArray(content) ? content : [content];
  return blocks
    .map((block) => {
      const { type, text: value } = block as { type?: unknown; text?: unknown };
      return type === 'text' && typeof value === 'string' ? value : JSON.stringify(block);
    })
    .join('\n');
}

function silentWav(samples: number): string {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24); // sample rate
  header.writeUInt32LE(8000, 28); // byte rate
  header.writeUInt16LE(1, 32); // block align
  header.writeUInt16LE(8, 34); // bits per sample
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(samples, 40);
  return Buffer.concat([header, Buffer.alloc(samples, 0x80)]).toString('base64');
}
