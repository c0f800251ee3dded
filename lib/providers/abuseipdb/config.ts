/**
 * Configuration of the `abuseipdb` integration: the top attackers of each
 * incident reported to AbuseIPDB (API v2) once the incident is over.
 *
 * The relay never reports while the attack runs (a report cannot be taken
 * back), never reports a `relay send-test` sample, and keeps within a daily
 * budget of its own below AbuseIPDB's quota.
 *
 * The lead wraps these in the integration schema (`id`, `enabled`, `match`,
 * `ttl`, `type: 'abuseipdb'`).
 */
import { z } from 'zod';
import { duration } from '../../config/duration.ts';
import { secretRefSchema } from '../../config/secret-ref.ts';

/** The API v2 base. Only tests pass another one (deps.baseUrl). */
export const ABUSEIPDB_API_BASE = 'https://api.abuseipdb.com/api/v2';

/** AbuseIPDB's report categories (https://www.abuseipdb.com/categories), by id. */
export const ABUSEIPDB_CATEGORIES: Readonly<Record<number, string>> = {
  1: 'DNS Compromise',
  2: 'DNS Poisoning',
  3: 'Fraud Orders',
  4: 'DDoS Attack',
  5: 'FTP Brute-Force',
  6: 'Ping of Death',
  7: 'Phishing',
  8: 'Fraud VoIP',
  9: 'Open Proxy',
  10: 'Web Spam',
  11: 'Email Spam',
  12: 'Blog Spam',
  13: 'VPN IP',
  14: 'Port Scan',
  15: 'Hacking',
  16: 'SQL Injection',
  17: 'Spoofing',
  18: 'Brute-Force',
  19: 'Bad Web Bot',
  20: 'Exploited Host',
  21: 'Web App Attack',
  22: 'SSH',
  23: 'IoT Targeted',
};
/** "Participating in distributed denial-of-service (usually part of botnet)". */
export const ABUSEIPDB_DDOS_CATEGORY = 4;
/** Lines one bulk-report CSV may hold (AbuseIPDB's documented limit). */
export const ABUSEIPDB_BULK_MAX_LINES = 10_000;
/** Most addresses reported per incident the option allows. */
export const ABUSEIPDB_MAX_TOP_N = 1_000;

const categoryList = Object.entries(ABUSEIPDB_CATEGORIES)
  .map(([id, name]) => `${id} ${name}`)
  .join(', ');

const category = z
  .number({ error: 'must be an AbuseIPDB category id (a number such as 4 for DDoS Attack)' })
  .int('must be a whole category id')
  .refine((id) => ABUSEIPDB_CATEGORIES[id] !== undefined, { error: `is not an AbuseIPDB category; use one of: ${categoryList}` });

/** `integrations[].options` of an `abuseipdb` integration. */
export const abuseipdbOptionsSchema = z
  .object({
    topN: z
      .number({ error: 'must be a whole number such as 20' })
      .int('must be a whole number such as 20')
      .min(1, 'report at least 1 address per incident')
      .max(ABUSEIPDB_MAX_TOP_N, `at most ${ABUSEIPDB_MAX_TOP_N} addresses per incident`)
      .default(20)
      .describe(
        "Most addresses reported per incident: each event holds only its top N attackers (highest confidence, then count) on this integration, and at most N are reported per incident.",
      ),
    categories: z
      .array(category)
      .min(1, 'list at least one category, e.g. [4] (DDoS Attack)')
      .max(30, 'AbuseIPDB accepts at most 30 categories per report')
      .refine((ids) => new Set(ids).size === ids.length, 'lists a category twice')
      .default([ABUSEIPDB_DDOS_CATEGORY])
      .describe('AbuseIPDB category ids of every report (default [4], DDoS Attack).'),
    dailyBudget: z
      .number({ error: 'must be a whole number of reports such as 500' })
      .int('must be a whole number of reports such as 500')
      .min(1, 'allow at least 1 report per day, or disable the integration')
      .max(1_000_000, 'at most 1,000,000 reports per day')
      .default(500)
      .describe(
        "Most reports (addresses) the relay sends per UTC day, single and bulk together; beyond it reports are skipped with a warning. Keep it below the key's daily report quota (free plan: 1,000), leaving room for other tools using the same key.",
      ),
    bulkThreshold: z
      .number({ error: 'must be a whole number of addresses such as 10' })
      .int('must be a whole number of addresses such as 10')
      .min(1, 'must be at least 1')
      .max(ABUSEIPDB_BULK_MAX_LINES, `at most ${ABUSEIPDB_BULK_MAX_LINES}`)
      .default(10)
      .describe(
        'An incident with more addresses to report than this is sent as one bulk report (POST /bulk-report, one request; its own small daily quota: 5 on the free plan) instead of one POST /report per address.',
      ),
    dryRun: z
      .boolean()
      .default(false)
      .describe('Log what would be reported (addresses, categories, comment) and send nothing.'),
    timeout: duration({ min: '1s', max: '60s' }).prefault('15s').describe('Longest one request may take.'),
  })
  .strict();
export type AbuseipdbOptions = z.output<typeof abuseipdbOptionsSchema>;

/** `integrations[].secrets` of an `abuseipdb` integration. */
export const abuseipdbSecretsSchema = z
  .object({
    apiKey: secretRefSchema.describe(
      'AbuseIPDB API v2 key (abuseipdb.com → User Account → API → Create Key), sent in the Key header. Any key of the account may report; the APIv1 key does not work.',
    ),
  })
  .strict();

/** The resolved secrets the provider is built with. Never logged. */
export interface AbuseipdbSecrets {
  apiKey: string;
}
