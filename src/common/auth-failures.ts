/**
 * Counts refused requests by reason (`mcp_auth_failures_total{reason}`), for the guards that refuse them. Declared
 * here so that auth/ records without depending on metrics/, which provides it (MetricsService).
 */
export abstract class AuthFailures {
  abstract authFailure(reason: string): void;
}
