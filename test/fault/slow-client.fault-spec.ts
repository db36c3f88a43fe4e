import net from 'node:net';
import { CANARY, canaryLines, FaultService, figures, PgCluster, violated, within } from './harness.js';

const BODY_TIMEOUT_MS = 3000;
/** Margin for the server's timeout sweep and a loaded machine. */
const CUT_MARGIN_MS = 2000;
/** A trickle is given up (and counts as never cut) after this long. */
const GIVE_UP_MS = 20_000;

interface Trickle {
  /** ms from the request head being sent until the server answered or closed the connection. */
  ms: number;
  /** What ended it: the server's status line, `closed` (no answer), or `never` (given up). */
  end: string;
  bytesSent: number;
}

/**
 * A raw-socket POST /mcp whose body (a tools/call of echo with the canary as text) trickles in at 1 byte/s. Ends
 * when the server answers or closes the connection, or after GIVE_UP_MS.
 */
function trickle(baseUrl: string, authorization?: string): Promise<Trickle> {
  const { hostname, port } = new URL(baseUrl);
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: CANARY } },
  });
  const head = [
    'POST /mcp HTTP/1.1',
    `Host: ${hostname}:${port}`,
    ...(authorization ? [`Authorization: ${authorization}`] : []),
    'Content-Type: application/json',
    'Accept: application/json, text/event-stream',
    'MCP-Protocol-Version: 2025-11-25',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ].join('\r\n');
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname);
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    const started = Date.now();
    const finish = (end: string) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ ms: Date.now() - started, end, bytesSent: sent });
    };
    const giveUp = setTimeout(() => finish('never'), GIVE_UP_MS);
    socket.once('connect', () => {
      socket.write(`${head}\r\n\r\n`);
      timer = setInterval(() => {
        if (sent < body.length && socket.writable) socket.write(body[sent++]);
      }, 1000);
    });
    socket.once('data', (chunk: Buffer) => finish(chunk.toString('latin1').split('\r\n')[0]));
    socket.once('close', () => finish('closed'));
    socket.once('error', () => finish('closed'));
  });
}

/**
 * Issue #15, fault tier: slow clients. A client with a valid token whose body trickles in at 1 byte/s is cut at
 * the body timeout (HTTP_BODY_TIMEOUT_MS, here 3 s, + margin); one without a token is refused (401) before its
 * body is read. The canary in the trickled body reaches no log line.
 */
describe('fault: trickling clients', () => {
  let cluster: PgCluster;
  let service: FaultService;

  beforeAll(async () => {
    cluster = await PgCluster.start();
    service = await FaultService.start(cluster, {
      agent: 'trickle-agent',
      tools: ['echo'],
      env: { HTTP_HEADERS_TIMEOUT_MS: '2000', HTTP_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS) },
    });
    const answer = await service.callTool('echo', { text: 'hello' });
    if (!answer.ok) throw new Error(`the service does not serve calls: ${JSON.stringify(answer)}`);
  }, 300_000);

  afterAll(async () => {
    await cluster?.recover().catch(() => {});
    await service?.dispose().catch(() => {});
    await cluster?.dispose();
  });

  it('cuts an authenticated trickle at the body timeout and refuses an unauthenticated one before its body', async () => {
    const [authenticated, anonymous] = await within(
      GIVE_UP_MS + 5000,
      Promise.all([trickle(service.baseUrl, `Bearer ${service.token}`), trickle(service.baseUrl)]),
      'trickling clients',
    );
    const healthy = await service.callTool('echo', { text: 'after' });
    figures('slow-client', {
      authenticatedCutMs: authenticated.ms,
      authenticatedEnd: JSON.stringify(authenticated.end),
      authenticatedBytes: authenticated.bytesSent,
      anonymousMs: anonymous.ms,
      anonymousEnd: JSON.stringify(anonymous.end),
      anonymousBytes: anonymous.bytesSent,
      serviceStillServes: healthy.ok,
    });

    expect(
      violated({
        'authenticated trickle is cut at the body timeout':
          authenticated.end !== 'never' && authenticated.ms <= BODY_TIMEOUT_MS + CUT_MARGIN_MS,
        'unauthenticated trickle is refused with 401 before its body is read':
          anonymous.end.includes(' 401') && anonymous.ms <= 1000,
        'the service still serves': healthy.ok,
        'the canary is in no log line': canaryLines(service.output).length === 0,
      }),
    ).toEqual([]);
  });
});
