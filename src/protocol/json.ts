/** JSON.parse that answers undefined instead of throwing (JSON itself never yields undefined). */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
