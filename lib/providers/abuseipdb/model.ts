/**
 * What the relay sends to AbuseIPDB: the report comment, its timestamp, the
 * bulk-report CSV and its multipart envelope; and the shapes of the answers.
 *
 * The comment describes the attack and nothing else: its vector (Flowtriq's
 * family), how long it lasted and its peak rates. Never the node's name or
 * address, the incident's title or uuid, or anything the operator typed.
 */
import { z } from 'zod';
import type { IncidentFacts } from '../types.ts';

/** AbuseIPDB truncates longer comments; the relay keeps well below. */
export const ABUSEIPDB_COMMENT_MAX = 1024;

/** `POST /report` 200: `{"data":{"ipAddress":"…","abuseConfidenceScore":52}}`. */
export const reportAnswerSchema = z.looseObject({
  data: z.looseObject({
    ipAddress: z.string(),
    abuseConfidenceScore: z.number().nullable().optional(),
  }),
});

/** `POST /bulk-report` 200: `{"data":{"savedReports":60,"invalidReports":[{"error","input","rowNumber"}]}}`. */
export const bulkAnswerSchema = z.looseObject({
  data: z.looseObject({
    savedReports: z.number().int().min(0),
    invalidReports: z
      .array(
        z.looseObject({
          error: z.string(),
          input: z.union([z.string(), z.number()]).transform(String).optional(),
          rowNumber: z.number().int().optional(),
        }),
      )
      .default([]),
  }),
});
export type BulkAnswer = z.output<typeof bulkAnswerSchema>['data'];

/** `GET /check` 200 (only what the health check reads). */
export const checkAnswerSchema = z.looseObject({
  data: z.looseObject({ ipAddress: z.string() }),
});

/** ISO 8601 as AbuseIPDB's examples write it: seconds, explicit offset. */
export function formatTimestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}+00:00`;
}

/** When the attack started, as a report timestamp: never in the future; undefined when Flowtriq gave none. */
export function attackTimestamp(facts: IncidentFacts, now: number): string | undefined {
  const started = facts.startedAt === undefined ? Number.NaN : Date.parse(facts.startedAt);
  if (!Number.isFinite(started)) return undefined;
  return formatTimestamp(Math.min(started, now));
}

/** "1h 02m 03s" style; undefined when the start is unknown. */
export function attackDuration(facts: IncidentFacts, now: number): string | undefined {
  const started = facts.startedAt === undefined ? Number.NaN : Date.parse(facts.startedAt);
  if (!Number.isFinite(started)) return undefined;
  const endedAt = facts.endedAt === undefined ? Number.NaN : Date.parse(facts.endedAt);
  const end = Number.isFinite(endedAt) ? endedAt : now;
  const seconds = Math.max(0, Math.round((end - started) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m ${String(s).padStart(2, '0')}s`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** 1_250_000 → "1.25 M" (SI), for pps and bps. */
export function formatRate(value: number, unit: string): string {
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, prefix] of steps) {
    if (value >= size) return `${trim(value / size)} ${prefix}${unit}`;
  }
  return `${Math.round(value)} ${unit}`;
}

function trim(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/**
 * Flowtriq's attack family as a vector name: letters, digits and a few
 * separators only (anything else is dropped), at most 48 characters.
 */
export function vectorName(family: string | undefined): string | undefined {
  if (family === undefined) return undefined;
  const cleaned = family.replace(/[^A-Za-z0-9 _./+-]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 48).trim();
  return cleaned.length > 0 ? cleaned : undefined;
}

/** The report comment: vector, duration, peak rates; one line, ≤ 1024 characters. */
export function buildComment(facts: IncidentFacts, now: number): string {
  const parts: string[] = [];
  const vector = vectorName(facts.family);
  parts.push(`vector: ${vector ?? 'unspecified'}`);
  const duration = attackDuration(facts, now);
  if (duration !== undefined) parts.push(`duration: ${duration}${facts.endedAt === undefined ? ' (still running when reported)' : ''}`);
  const peaks: string[] = [];
  if (isRate(facts.peakPps)) peaks.push(formatRate(facts.peakPps, 'pps'));
  if (isRate(facts.peakBps)) peaks.push(formatRate(facts.peakBps, 'bps'));
  if (peaks.length > 0) parts.push(`peak: ${peaks.join(', ')}`);
  const comment = `DDoS attack source observed by Flowtriq (${parts.join('; ')}). Reported automatically by flowtriq-relay.`;
  return comment.length > ABUSEIPDB_COMMENT_MAX ? comment.slice(0, ABUSEIPDB_COMMENT_MAX) : comment;
}

function isRate(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value > 0;
}

/** One bulk-report line. */
export interface BulkRow {
  ip: string;
  categories: readonly number[];
  timestamp: string;
  comment: string;
}

/** The bulk-report CSV: header `IP,Categories,ReportDate,Comment`, one row per address (RFC 4180 quoting). */
export function buildBulkCsv(rows: readonly BulkRow[]): string {
  const lines = ['IP,Categories,ReportDate,Comment'];
  for (const row of rows) {
    lines.push([row.ip, csvField(row.categories.join(',')), row.timestamp, csvField(row.comment)].join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A multipart/form-data body with one file field `csv`. */
export function multipartCsv(csv: string, boundary: string): { body: string; contentType: string } {
  if (csv.includes(boundary)) throw new Error('multipart boundary occurs in the CSV');
  const body =
    `--${boundary}\r\n` +
    'Content-Disposition: form-data; name="csv"; filename="report.csv"\r\n' +
    'Content-Type: text/csv\r\n' +
    '\r\n' +
    csv +
    `\r\n--${boundary}--\r\n`;
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}
