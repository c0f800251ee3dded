/** `relay history`: the audit trail, one line per entry, newest first. */
import type { AuditEntry } from '../model/types.ts';

const pad = (text: string, width: number) => (text.length >= width ? text : text + ' '.repeat(width - text.length));

export function formatHistory(entries: readonly AuditEntry[]): string {
  if (entries.length === 0) return 'No history in that window.';
  return entries
    .map((entry) =>
      [
        new Date(entry.at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        pad(entry.action, 19),
        pad(entry.integration ?? '-', 16),
        pad(entry.incident ?? '-', 36),
        pad(String(entry.count), 6),
        pad(entry.outcome, 17),
        entry.detail ?? '',
      ]
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
