import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** A real SDK client connected over Streamable HTTP (initialize done). */
export async function connectClient(url: URL, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'e2e-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
  return client;
}

/** The parsed JSON error a failed tool result carries in its text content. */
export function toolError(result: unknown): { code: string; message: string } {
  const { content } = result as { content: { type: string; text: string }[] };
  return (JSON.parse(content[0].text) as { error: { code: string; message: string } }).error;
}
