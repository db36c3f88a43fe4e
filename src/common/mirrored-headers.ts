/**
 * Values that 2026-07-28 clients mirror from the JSON-RPC body into HTTP headers (`Mcp-Name`, `Mcp-Param-*`):
 * their decoding and the tool annotations that declare them (streamable-http "Value Encoding", "Custom Headers
 * from Tool Parameters"). The rules are the SDK's (`decodeMcpParamValue`, `scanXMcpHeaderDeclarations`,
 * `validateMcpParamHeaders` in @modelcontextprotocol/server 2.4, internal there), so our checks and the ones the
 * SDK's handler repeats later never disagree; request-view.spec.ts pins them to the SDK's answers.
 */

const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
/** Canonical padded Base64: a payload with bad padding or characters is refused, never decoded leniently. */
const BASE64_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 9110 field value: visible ASCII, space and tab. Anything else must travel Base64-encoded. */
const FIELD_VALUE = /^[\t\x20-\x7E]*$/;
/**
 * Longest mirrored header value we read (SECURITY.md F5: reject oversized headers early). Node caps all headers
 * at 16 KiB together; a name or an argument worth mirroring is far shorter.
 */
export const MAX_MIRRORED_HEADER_LENGTH = 8192;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Strips RFC 9110 optional whitespace (SP / HTAB) around a field value, as the SDK does before comparing. */
export function stripOws(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '');
}

/**
 * A mirrored header's value as the body would carry it: decoded when it carries the Base64 sentinel, as-is
 * otherwise; `undefined` when it cannot be one (too long, characters a header may not carry, a sentinel whose
 * payload is not canonical Base64 of UTF-8).
 */
export function decodeMirroredValue(raw: string): string | undefined {
  const value = stripOws(raw);
  if (value.length > MAX_MIRRORED_HEADER_LENGTH || !FIELD_VALUE.test(value)) return undefined;
  if (!(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX))) return value;
  const payload = value.slice(SENTINEL_PREFIX.length, value.length - SENTINEL_SUFFIX.length);
  if (!BASE64_CANONICAL.test(payload)) return undefined;
  try {
    return UTF8.decode(Buffer.from(payload, 'base64'));
  } catch {
    return undefined; // not UTF-8
  }
}

/** One `x-mcp-header` annotation: the argument at `path` travels in `Mcp-Param-<header>`. */
export interface ParamHeader {
  path: string[];
  header: string;
  type: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** `number` is not allowed by the spec, yet the SDK still checks such headers; so do we. */
const HEADER_TYPES = new Set(['string', 'integer', 'boolean', 'number']);
/** Keywords an annotation must not sit under: only a chain of `properties` reaches an annotated argument. */
const UNREACHABLE = [
  'items',
  'prefixItems',
  'contains',
  'additionalProperties',
  'unevaluatedProperties',
  'unevaluatedItems',
  'propertyNames',
  'patternProperties',
  'dependentSchemas',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  '$defs',
  'definitions',
];
const NAME_TO_SCHEMA = new Set(['patternProperties', 'dependentSchemas', '$defs', 'definitions']);

const declared = new WeakMap<object, ParamHeader[]>();

/**
 * A tool's `x-mcp-header` annotations (computed once per schema). A schema with a misplaced or malformed
 * annotation declares none: the tool definition is invalid, and the SDK then checks no `Mcp-Param-*` header.
 */
export function paramHeadersOf(inputSchema: Record<string, unknown>): ParamHeader[] {
  let found = declared.get(inputSchema);
  if (found) return found;
  const headers: ParamHeader[] = [];
  const names = new Set<string>();
  const valid = (node: unknown, path: string[], reachable: boolean): boolean => {
    if (!isObject(node)) return true;
    if ('x-mcp-header' in node) {
      const header = node['x-mcp-header'];
      const type = typeof node.type === 'string' ? node.type : '';
      if (!reachable || path.length === 0 || typeof header !== 'string' || !TOKEN.test(header)) return false;
      if (!HEADER_TYPES.has(type) || names.has(header.toLowerCase())) return false;
      names.add(header.toLowerCase());
      headers.push({ path, header, type });
    }
    const properties = isObject(node.properties) ? Object.entries(node.properties) : [];
    if (!properties.every(([key, child]) => valid(child, [...path, key], reachable))) return false;
    return UNREACHABLE.every((keyword) => {
      const sub = node[keyword];
      if (sub === undefined) return true;
      const branches = Array.isArray(sub)
        ? sub
        : NAME_TO_SCHEMA.has(keyword) && isObject(sub)
          ? Object.values(sub)
          : [sub];
      return branches.every((branch) => valid(branch, [...path, `<${keyword}>`], false));
    });
  };
  found = valid(inputSchema, [], true) ? headers : [];
  declared.set(inputSchema, found);
  return found;
}

/** Why a `Mcp-Param-*` header does not vouch for its argument, or undefined when every declared one does. */
export interface ParamHeaderProblem {
  header: string;
  problem: 'missing' | 'invalid' | 'mismatch';
}

/**
 * Checks the declared `Mcp-Param-*` headers against the call's arguments. An argument that is absent or null
 * needs no header (a present one is ignored); one that is present needs its header, decoding to the same value
 * (integers compared as numbers: `42.0` is `42`).
 */
export function paramHeaderProblem(
  declarations: readonly ParamHeader[],
  args: unknown,
  headerOf: (lowerCaseName: string) => string | undefined,
): ParamHeaderProblem | undefined {
  for (const { path, header, type } of declarations) {
    const name = `Mcp-Param-${header}`;
    const value = path.reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), args);
    const expected = primitiveText(value);
    if (expected === undefined) continue;
    const raw = headerOf(name.toLowerCase());
    if (raw === undefined) return { header: name, problem: 'missing' };
    const decoded = decodeMirroredValue(raw);
    if (decoded === undefined) return { header: name, problem: 'invalid' };
    const numeric = (type === 'integer' || type === 'number') && typeof value === 'number';
    const same =
      numeric && /^-?\d+(\.\d+)?$/.test(decoded) ? Number(decoded) === value : decoded === expected;
    if (!same) return { header: name, problem: 'mismatch' };
  }
  return undefined;
}

/** The spec's type conversion; undefined for values no header carries (objects, null, unsafe numbers). */
function primitiveText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  return Number.isInteger(value) && !Number.isSafeInteger(value) ? undefined : String(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
