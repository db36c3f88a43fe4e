import {
  CLIENT_CAPABILITIES_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  Server,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCRequest,
} from '@modelcontextprotocol/server';
import { MODERN_PROTOCOL_VERSIONS } from '../common/request-view.js';
import { MultiplexTransport } from './shared-server.service.js';

const MODERN = MODERN_PROTOCOL_VERSIONS[0];

/** A real SDK server answering `tools/call` with the text it was given, on a multiplex transport of `era`. */
async function serverOn(era: 'legacy' | 'modern', withHandler = true) {
  const server = new Server(
    { name: 'spec', version: '1' },
    {
      capabilities: { tools: {} },
      ...(era === 'modern' && { supportedProtocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS, MODERN] }),
    },
  );
  if (withHandler)
    server.setRequestHandler('tools/call', (request) => ({
      content: [{ type: 'text', text: String(request.params.arguments?.text) }],
    }));
  const transport = new MultiplexTransport(era === 'modern' ? { era, revision: MODERN } : undefined);
  await server.connect(transport);
  return { server, transport };
}

const call = (id: string | number, text: string, modern = false): JSONRPCRequest => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: {
    name: 'echo',
    arguments: { text },
    ...(modern && { _meta: { [PROTOCOL_VERSION_META_KEY]: MODERN, [CLIENT_CAPABILITIES_META_KEY]: {} } }),
  },
});

describe('MultiplexTransport', () => {
  it('binds its server to 2026-07-28 when it carries that classification (the SDK reads it on connect)', async () => {
    const modern = await serverOn('modern');
    const legacy = await serverOn('legacy');
    // If an SDK upgrade stops binding this way, the modern lane would answer in the 2025 codec: fail here first.
    expect(modern.server.getNegotiatedProtocolVersion()).toBe(MODERN);
    expect(legacy.server.getNegotiatedProtocolVersion()).toBeUndefined();
    await Promise.all([modern.server.close(), legacy.server.close()]);
  });

  it.each(['legacy', 'modern'] as const)(
    '%s: answers concurrent requests under their own ids, in their era',
    async (era) => {
      const { server, transport } = await serverOn(era);
      const texts = ['a', 'b', 'c'];
      const answers = await Promise.all(
        texts.map((text) => transport.dispatch(call(7, text, era === 'modern'), {})!.answer),
      );
      answers.forEach((answer, i) =>
        expect(answer).toMatchObject({
          id: 7,
          result: {
            content: [{ text: texts[i] }],
            ...(era === 'modern' && { resultType: 'complete' }),
          },
        }),
      );
      await server.close();
    },
  );

  it("gives back a request the server answers before any handler ran (its dispatch gates), so the SDK's transport can", async () => {
    const { server, transport } = await serverOn('legacy', false); // no tools/call handler: "Method not found"
    expect(transport.dispatch(call(1, 'x'), {})).toBeUndefined();
    await server.close();
  });

  it('answers calls still pending when the server closes, and cancels one whose client went away', async () => {
    const { server, transport } = await serverOn('legacy', false);
    let aborted: unknown;
    server.setRequestHandler('tools/call', (_request, ctx) => {
      return new Promise((_resolve, reject) =>
        ctx.mcpReq.signal.addEventListener('abort', () => {
          aborted = ctx.mcpReq.signal.reason;
          reject(new Error('aborted'));
        }),
      );
    });
    const gone = transport.dispatch(call(1, 'x'), {})!;
    const pending = transport.dispatch(call(2, 'y'), {})!;
    await new Promise((resolve) => setImmediate(resolve));
    gone.cancel();
    expect(await gone.answer).toBeUndefined();
    await new Promise((resolve) => setImmediate(resolve));
    expect(aborted).toBe('client disconnected');
    await server.close();
    expect(await pending.answer).toMatchObject({ id: 2, error: { code: -32000 } });
  });
});
