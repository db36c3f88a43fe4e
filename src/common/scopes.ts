/** `tool:<name>`: the scope that lets a token call (and see) a tool. */
export function toolScope(toolName: string): string {
  return `tool:${toolName}`;
}
