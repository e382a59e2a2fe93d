// Presence frames of one flush travel on PRESENCE_TOPIC to every replica as one message: each
// subject's frame once, and per connected viewer the indices of the frames it gets. Each replica
// hands a viewer's frames to that viewer's sessions there, as a `frames` control message.

export interface PresenceBatch {
  /** Serialised presence frames, sent to sockets as they are. */
  frames: string[];
  /** Per viewer (a user id): the indices in `frames` of what their sessions get, in order. */
  to: [viewer: string, indices: number[]][];
}

export const encodePresenceBatch = (batch: PresenceBatch) => JSON.stringify(batch);

/**
 * The batch, or undefined when the data is not one (another version's format): checked by hand,
 * not by zod, since every replica reads every flush and a batch may name tens of thousands of viewers.
 */
export function decodePresenceBatch(data: string): PresenceBatch | undefined {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { frames, to } = value as Record<string, unknown>;
  if (!Array.isArray(frames) || !frames.every((f) => typeof f === 'string')) return undefined;
  if (!Array.isArray(to)) return undefined;
  for (const entry of to) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) return undefined;
    for (const i of entry[1]) if (!Number.isInteger(i) || i < 0 || i >= frames.length) return undefined;
  }
  return { frames, to } as PresenceBatch;
}
