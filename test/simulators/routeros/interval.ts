/**
 * RouterOS time values as the simulator reads and prints them. Written
 * separately from the adapter's parser on purpose: the simulator must not
 * share the code it is testing.
 *
 * Accepted: `1w2d3h4m5s` (any subset, in that order), `500ms`, `hh:mm:ss`,
 * `1d00:00:00`, a bare number of seconds. Range 0s..35w3d13h13m56s.
 */

/** The longest timeout RouterOS accepts, in milliseconds (35w3d13h13m56s). */
export const MAX_TIMEOUT_MS = 21_474_836_000;

const UNIT_MS: Record<string, number> = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
const ORDER = ['w', 'd', 'h', 'm', 's', 'ms'];

/** Milliseconds, or undefined when RouterOS would not read the text as a time. */
export function readTime(text: string): number | undefined {
  if (/^[0-9]{1,10}$/.test(text)) return Number(text) * 1000;
  const clock = /^(?:([0-9]+)w)?(?:([0-9]+)d)?([0-9]{1,2}):([0-9]{2}):([0-9]{2})$/.exec(text);
  if (clock) {
    const [, w, d, h, m, s] = clock;
    return (
      Number(w ?? 0) * UNIT_MS.w! + Number(d ?? 0) * UNIT_MS.d! + Number(h) * UNIT_MS.h! + Number(m) * UNIT_MS.m! + Number(s) * 1000
    );
  }
  let rest = text;
  let total = 0;
  let lastUnit = -1;
  if (rest === '') return undefined;
  while (rest !== '') {
    const part = /^([0-9]{1,10})(ms|w|d|h|m|s)/.exec(rest);
    if (!part) return undefined;
    const unit = ORDER.indexOf(part[2]!);
    if (unit <= lastUnit) return undefined;
    lastUnit = unit;
    total += Number(part[1]) * UNIT_MS[part[2]!]!;
    rest = rest.slice(part[0].length);
  }
  return total;
}

/** Prints a remaining time the way RouterOS v7 does: `1w2d3h4m5s`, zero units left out. */
export function printTime(ms: number): string {
  let seconds = Math.max(0, Math.ceil(ms / 1000));
  if (seconds === 0) return '0s';
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's']) {
    const size = UNIT_MS[unit]! / 1000;
    const count = Math.floor(seconds / size);
    if (count > 0) out += `${count}${unit}`;
    seconds -= count * size;
  }
  return out;
}
