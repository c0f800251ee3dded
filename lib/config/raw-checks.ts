/**
 * Config checks that need more than one field, run on the raw document as
 * well: zod skips the schema's config-wide refinements (duplicate ids,
 * via: vpc) while any field is invalid, so the loader adds these to its
 * issues and one run lists every problem (relay start and check-config).
 */
import { parseCidr } from '../ip/cidr.ts';
import type { ConfigIssue } from './errors.ts';

type Raw = Record<string, unknown>;
const isObject = (value: unknown): value is Raw => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `blocking.neverBlock` entries that are not an address or a prefix (non-strings are the schema's to report). */
export function neverBlockIssues(entries: readonly unknown[]): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  entries.forEach((entry, index) => {
    if (typeof entry !== 'string' || entry === '') return;
    const parsed = parseCidr(entry);
    if (!parsed.ok) {
      issues.push({
        path: `blocking.neverBlock[${index}]`,
        message: /\bwrite\b/.test(parsed.reason)
          ? `"${entry}": ${parsed.reason}`
          : `"${entry}" ${parsed.reason}; write an address or a prefix such as 198.51.100.0/24 or 2001:db8::/32`,
      });
    }
  });
  return issues;
}

/** Checks the loader skips while the file has other errors, run on the raw document. */
export function rawIssues(value: unknown): ConfigIssue[] {
  if (!isObject(value)) return [];
  const issues: ConfigIssue[] = [];
  const blocking = value.blocking;
  if (isObject(blocking) && Array.isArray(blocking.neverBlock)) issues.push(...neverBlockIssues(blocking.neverBlock));
  const integrations = Array.isArray(value.integrations) ? value.integrations : [];
  const seen = new Map<string, number>();
  const awsVpc = isObject(value.aws) && value.aws.vpc !== undefined;
  integrations.forEach((integration: unknown, index) => {
    if (!isObject(integration)) return;
    if (typeof integration.id === 'string') {
      const first = seen.get(integration.id);
      if (first !== undefined) {
        issues.push({
          path: `integrations[${index}].id`,
          message: `duplicate id "${integration.id}" (also used by integrations[${first}]); give each integration its own id`,
        });
      } else {
        seen.set(integration.id, index);
      }
    }
    if (integration.via === 'vpc' && !awsVpc) {
      issues.push({
        path: `integrations[${index}].via`,
        message: 'is "vpc" but aws.vpc is not configured; add aws.vpc.subnetIds and aws.vpc.securityGroupIds, or use via: direct',
      });
    }
  });
  return issues;
}

