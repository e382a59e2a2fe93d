// Types of scripts/build-if-stale.mjs for the TypeScript that imports it (tests, helpers).
export const BUILD_SOURCES: string[];
export const STAMP: string;
export const BUILD_OUTPUTS: string[];
export function staleness(times: { stampMs: number | undefined; outputsMs: (number | undefined)[]; newestSourceMs: number }): {
  stale: boolean;
  reason?: string;
};
export function newestMtimeMs(path: string): number;
export function buildStaleness(dir?: string): { stale: boolean; reason?: string };
export function buildIfStale(dir?: string): boolean;
