import { describe, expect, it } from 'vitest';
import { abuseipdbOptionsSchema, abuseipdbSecretsSchema } from '../../../lib/providers/abuseipdb/config.ts';

function issues(input: unknown): string[] {
  const parsed = abuseipdbOptionsSchema.safeParse(input);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('abuseipdb options', () => {
  it('defaults to the top 20 per incident, DDoS Attack, 500 reports a day, bulk above 10, no dry run, 15 s', () => {
    // Act
    const options = abuseipdbOptionsSchema.parse({});

    // Assess
    expect(options).toEqual({ topN: 20, categories: [4], dailyBudget: 500, bulkThreshold: 10, dryRun: false, timeout: 15_000 });
  });

  it('accepts valid categories and other values', () => {
    // Act
    const options = abuseipdbOptionsSchema.parse({ topN: 5, categories: [4, 14], dailyBudget: 900, bulkThreshold: 3, dryRun: true, timeout: '30s' });

    // Assess
    expect(options).toMatchObject({ topN: 5, categories: [4, 14], dailyBudget: 900, bulkThreshold: 3, dryRun: true, timeout: 30_000 });
  });

  it('refuses unknown categories naming the valid ones', () => {
    // Act
    const found = issues({ categories: [4, 99] });

    // Assess
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^categories\.1: is not an AbuseIPDB category; use one of: 1 DNS Compromise, .*4 DDoS Attack/);
  });

  it('refuses an empty or repeated category list', () => {
    // Assess
    expect(issues({ categories: [] })[0]).toMatch(/list at least one category/);
    expect(issues({ categories: [4, 4] })[0]).toMatch(/lists a category twice/);
  });

  it('refuses out-of-range numbers and unknown fields', () => {
    // Assess
    expect(issues({ topN: 0 })[0]).toMatch(/^topN: report at least 1/);
    expect(issues({ topN: 1001 })[0]).toMatch(/^topN: at most 1000/);
    expect(issues({ dailyBudget: 0 })[0]).toMatch(/^dailyBudget: allow at least 1 report/);
    expect(issues({ bulkThreshold: 2.5 })[0]).toMatch(/^bulkThreshold: must be a whole number/);
    expect(issues({ apiKey: 'x' })[0]).toMatch(/apiKey/);
  });

  it('takes the key as a secret reference only', () => {
    // Assess
    expect(abuseipdbSecretsSchema.parse({ apiKey: { env: 'ABUSEIPDB_API_KEY' } })).toEqual({ apiKey: { env: 'ABUSEIPDB_API_KEY', optional: false } });
    expect(abuseipdbSecretsSchema.safeParse({ apiKey: 'plain-text-key' }).success).toBe(false);
  });
});
