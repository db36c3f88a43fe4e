/** Shapes of the admin API's answers, as the console uses them (see the OpenAPI document at /docs). */

export type SignInConfig =
  | { signIn: 'dev' }
  | { signIn: 'none' }
  | {
      signIn: 'oauth';
      issuer: string;
      clientId: string;
      scope: string;
      resource: string;
      redirectUri: string;
    };

export interface Me {
  agentId: string;
  scopes: string[];
  canWrite: boolean;
}

export interface Grant {
  id: string;
  agentId: string;
  toolName: string;
  toolVersion: string | null;
  grantedBy: string;
  grantedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
}

export interface Revocation {
  jti: string;
  revokedAt: string;
  expiresAt: string | null;
  reason: string | null;
}

export interface AuditEvent {
  id: string;
  occurredAt: string;
  kind: string;
  agentId: string | null;
  clientId: string | null;
  requestId: string | null;
  sessionId: string | null;
  toolName: string | null;
  toolVersion: string | null;
  outcome: string;
  errorCode: string | null;
  durationMs: number | null;
  paramBytes: number | null;
  resultBytes: number | null;
  paramsSha256: string | null;
  remoteAddr: string | null;
  userAgent: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditPage {
  items: AuditEvent[];
  nextCursor: string | null;
}

export interface Tool {
  name: string;
  version: string;
  title?: string;
  description?: string;
  latest: boolean;
  deprecated: false | undefined | { sunset: string; replacement: string };
  breaker: { state: 'closed' | 'open' | 'half_open'; retryAfterMs?: number };
  disabled: boolean;
}

export interface Switch {
  toolName: string;
  toolVersion: string | null;
  disabledBy: string;
  disabledAt: string;
  reason: string | null;
}

export interface SummaryPoint {
  at: string;
  seconds: number;
  callsPerSecond: number;
  errorRate: number | null;
  denialsPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Summary {
  scope: 'replica';
  replica: { hostname: string; pid: number; startedAt: string };
  intervalSeconds: number;
  tools: {
    tool: string;
    totals: { calls: number; errors: number; denials: number };
    points: SummaryPoint[];
  }[];
}

/** What every view gets. */
export interface ViewContext {
  main: HTMLElement;
  canWrite: boolean;
  api: import('./api.js').Api;
  /** Shows the outcome of an action, with the id of the audit row it produced. */
  notify: (message: string, auditId?: string | null) => void;
  fail: (error: unknown) => void;
}

/** A view renders into `ctx.main`; it may return a function that stops it (timers). */
export type View = (ctx: ViewContext) => Promise<void | (() => void)>;
