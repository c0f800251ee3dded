/** Bounds of the audit trail (lib/model/types.ts AuditEntry), shared by every store. */
import type { AuditEntry } from './types.ts';

/** Longest `detail` kept (longer ones are cut with an ellipsis). */
export const AUDIT_DETAIL_MAX = 300;
/** Entries `listAudit` returns when the query names no limit, and the most it ever returns. */
export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

/** The entry as stored: `detail` cut to AUDIT_DETAIL_MAX. */
export function boundedAuditEntry(entry: AuditEntry): AuditEntry {
  if (entry.detail === undefined || entry.detail.length <= AUDIT_DETAIL_MAX) return entry;
  return { ...entry, detail: `${entry.detail.slice(0, AUDIT_DETAIL_MAX - 1)}…` };
}

/** The query's limit within 1…AUDIT_MAX_LIMIT. */
export function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_DEFAULT_LIMIT;
  return Math.max(1, Math.min(AUDIT_MAX_LIMIT, Math.floor(limit)));
}
