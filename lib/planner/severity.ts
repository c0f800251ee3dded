import { SEVERITIES } from '../event/types.ts';

/** Rank of a severity (low = 1 … critical = 4); unknown or absent = 0. */
export function severityRank(severity: string | undefined): number {
  if (severity === undefined) return 0;
  return SEVERITIES.indexOf(severity.toLowerCase() as (typeof SEVERITIES)[number]) + 1;
}
