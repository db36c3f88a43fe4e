/**
 * 2025-11-25 sessionful clients that never say goodbye: initialize, notifications/initialized with the session
 * id, one `echo` call, and no DELETE. The memory phase opens many to check the service holds them within its cap.
 */
const VERSION = '2025-11-25';

async function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
  await response.text(); // drain (JSON or a one-event SSE stream)
  if (!response.ok) throw new Error(`legacy session: HTTP ${response.status}`);
  return response;
}

async function openSession(url: string, authorization: string, n: number): Promise<void> {
  const init = await post(
    url,
    { authorization },
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: VERSION,
        capabilities: {},
        clientInfo: { name: `bench-legacy-${n}`, version: '1.0.0' },
      },
    },
  );
  const session = init.headers.get('mcp-session-id');
  if (!session) throw new Error('legacy session: initialize returned no mcp-session-id');
  const headers = { authorization, 'mcp-session-id': session, 'mcp-protocol-version': VERSION };
  await post(url, headers, { jsonrpc: '2.0', method: 'notifications/initialized' });
  await post(url, headers, {
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: 'hello' } },
  });
}

/** Opens `count` sessions, `parallel` at a time. */
export async function openLegacySessions(
  url: string,
  authorization: string,
  count: number,
  parallel = 16,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await openSession(url, authorization, next++);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
