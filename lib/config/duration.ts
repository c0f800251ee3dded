import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d)$/;

/** Parses "500ms", "90s", "5m", "1h", "7d" to milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Formats milliseconds as the largest exact unit ("3600000" → "1h"). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

/** A zod type accepting "90s"/"5m"/"1h"/"7d" or a number of seconds; outputs milliseconds. */
export function duration(bounds: { min: string; max: string }) {
  const min = parseDuration(bounds.min)!;
  const max = parseDuration(bounds.max)!;
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      const ms = typeof value === 'number' ? value * 1000 : parseDuration(value);
      if (ms === undefined || !Number.isFinite(ms)) {
        ctx.addIssue({
          code: 'custom',
          message: `"${String(value)}" is not a duration; write a number of seconds or e.g. "90s", "5m", "1h", "7d"`,
        });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${formatDuration(ms)} is out of range; use between ${bounds.min} and ${bounds.max}`,
        });
        return z.NEVER;
      }
      return ms;
    });
}
