/**
 * RouterOS time intervals, as address-list `timeout` values use them.
 *
 * - Written by the relay as `1w2d3h4m5s` (units omitted when zero), always in
 *   whole seconds, between 1 s and RouterOS's maximum `35w3d13h13m56s`
 *   (2^31 centiseconds).
 * - Read back in either style RouterOS prints: `23h59m58s`, `1w2d`,
 *   `00:10:00`, `1d00:00:00`, optionally with milliseconds (`500ms`, `…s.250`).
 */

/** The longest `timeout` RouterOS accepts: 35w3d13h13m56s. */
export const ROUTEROS_MAX_TIMEOUT_SECONDS = 21_474_836;

const UNIT_SECONDS = { w: 604_800, d: 86_400, h: 3_600, m: 60, s: 1 } as const;
const UNITS = ['w', 'd', 'h', 'm', 's'] as const;

/**
 * The device-side timeout for an entry the relay will remove at `expiresAt`:
 * whole seconds rounded up, at least 1 s, at most the RouterOS maximum.
 */
export function timeoutSecondsUntil(expiresAt: number, now: number): number {
  const seconds = Number.isFinite(expiresAt) ? Math.ceil((expiresAt - now) / 1000) : ROUTEROS_MAX_TIMEOUT_SECONDS;
  return Math.min(ROUTEROS_MAX_TIMEOUT_SECONDS, Math.max(1, seconds));
}

/** Formats whole seconds (1 … max) as `1w2d3h4m5s`. */
export function formatRouterOsInterval(seconds: number): string {
  let rest = Math.min(ROUTEROS_MAX_TIMEOUT_SECONDS, Math.max(1, Math.floor(seconds)));
  let text = '';
  for (const unit of UNITS) {
    const count = Math.floor(rest / UNIT_SECONDS[unit]);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * UNIT_SECONDS[unit];
  }
  return text;
}

const UNIT_FORM = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;
const CLOCK_FORM = /^(?:(\d+)w)?(?:(\d+)d)?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/** Parses a RouterOS interval to seconds (fractions kept); undefined when unreadable. */
export function parseRouterOsInterval(text: string): number | undefined {
  const value = text.trim();
  if (value === '' || value.length > 40) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const clock = CLOCK_FORM.exec(value);
  if (clock) {
    const [, w, d, h, m, s, fraction] = clock;
    return (
      Number(w ?? 0) * UNIT_SECONDS.w +
      Number(d ?? 0) * UNIT_SECONDS.d +
      Number(h) * UNIT_SECONDS.h +
      Number(m) * UNIT_SECONDS.m +
      Number(s) +
      (fraction === undefined ? 0 : Number(fraction.padEnd(3, '0')) / 1000)
    );
  }
  const units = UNIT_FORM.exec(value);
  if (!units) return undefined;
  const [, w, d, h, m, s, ms] = units;
  return (
    Number(w ?? 0) * UNIT_SECONDS.w +
    Number(d ?? 0) * UNIT_SECONDS.d +
    Number(h ?? 0) * UNIT_SECONDS.h +
    Number(m ?? 0) * UNIT_SECONDS.m +
    Number(s ?? 0) +
    Number(ms ?? 0) / 1000
  );
}
