import type { FastifyRequest } from 'fastify';
import type { Principal } from './principal.js';

/** One version of a tool, as the gate reads it. */
export interface ToolVersionRef {
  name: string;
  version: string;
}

/**
 * The database's answers for one call: is this version switched off, does the agent hold a grant for it, and
 * does it hold one for any version of the tool (the name-level grant, decided before anything about versions)?
 */
export interface GateReading {
  disabled: boolean;
  granted: boolean;
  grantedName: boolean;
}

/**
 * What admission (src/admission/) decided for a request whose token was verified: its token is not revoked (a
 * revoked one gets no Admission, it is answered 401). For one `tools/call` of a known tool, `gate` is the call's
 * gate reading, read in the same statement as the revocation: the pipeline takes it instead of reading again.
 */
export interface Admission {
  readonly principal: Principal;
  gate?: GateReading & { readonly tool: ToolVersionRef };
  /**
   * When the HTTP request arrived (epoch ms). A call's budget counts from it, so that waits before the pipeline
   * (admission's database read) are inside the budget and the answer still comes within budget + 1 s.
   */
  readonly receivedAt?: number;
}

const ADMISSION = Symbol('admission');

export function setAdmission(req: FastifyRequest, admission: Admission): void {
  (req as unknown as Record<symbol, Admission>)[ADMISSION] = admission;
}

/** Undefined before admission (and on `@Public()` routes, which it skips). */
export function admissionOf(req: FastifyRequest): Admission | undefined {
  return (req as unknown as Record<symbol, Admission | undefined>)[ADMISSION];
}

/**
 * The gate reading admission read for `tool`, handed out once: a later round of the same request (a 2025
 * session's input rounds call the handler again) reads afresh, as a new call would.
 */
export function takeGateReading(
  admission: Admission | undefined,
  tool: ToolVersionRef,
): GateReading | undefined {
  const gate = admission?.gate;
  if (!gate || gate.tool.name !== tool.name || gate.tool.version !== tool.version) return undefined;
  admission.gate = undefined;
  return gate;
}

/** Reads a call's gate when admission did not (in-process calls, later rounds); provided by admission/. */
export abstract class GateReader {
  abstract read(principal: Principal, tool: ToolVersionRef): Promise<GateReading>;
}
