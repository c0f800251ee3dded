/**
 * Seed strings where every field that comes from a webhook or a device
 * carries markup: the two classic payloads, alternated, each tagged with its
 * field name so a failure names the field.
 */
import { PLAIN, type SeedStrings } from './seed.ts';

export const PAYLOADS = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>'] as const;

export function hostileStrings(): SeedStrings {
  const fields = Object.keys(PLAIN) as (keyof SeedStrings)[];
  return Object.fromEntries(fields.map((field, index) => [field, `${field}${PAYLOADS[index % 2]}${PAYLOADS[(index + 1) % 2]}`])) as unknown as SeedStrings;
}
