import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../lib/state/sqlite.ts';
import { collectStatusView } from '../../lib/status/collect.ts';
import { REFRESH_SECONDS, renderStatusPage } from '../../lib/status/page.ts';
import type { StatusView } from '../../lib/status/types.ts';
import { ADDRESSES, NOW, PLAIN, seededDeps, type SeedStrings } from './seed.ts';
import { hostileStrings, PAYLOADS } from './xss.ts';

const stores: SqliteStateStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
});

async function pageFor(strings?: SeedStrings): Promise<string> {
  const deps = await seededDeps(strings ? { strings } : {});
  stores.push(deps.store);
  return renderStatusPage(await collectStatusView(deps));
}

/** Text as it must appear in HTML once escaped. */
function escaped(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;');
}

/** Every real tag of the document (escaped text holds no `<`). */
function tagsOf(html: string): string[] {
  return [...html.matchAll(/<[a-zA-Z!][^>]*>/g)].map((match) => match[0]);
}

const USED_TAGS = new Set(['!doctype', 'html', 'head', 'meta', 'title', 'link', 'style', 'body', 'main', 'header', 'h1', 'h2', 'h3', 'div', 'a', 'section', 'ul', 'li', 'dl', 'dt', 'dd', 'table', 'thead', 'tbody', 'tr', 'th', 'td', 'span', 'time', 'p']);

describe('renderStatusPage', () => {
  it('shows every seeded item: incidents, blocks on both integrations, the switch on hold-down, the failure, the notice, the audit', async () => {
    // Prepare / Act
    const html = await pageFor();

    // Assess
    for (const text of [PLAIN.incidentA, PLAIN.incidentB, PLAIN.titleA, PLAIN.familyB, PLAIN.nodeNameA, PLAIN.nodeIpB, PLAIN.severityB]) expect(html).toContain(text);
    for (const address of ADDRESSES) expect(html).toContain(address);
    expect(html).toContain(`${PLAIN.fw}</span> (routeros)`);
    expect(html).toContain(`${PLAIN.cf}</span> (cloudflare)`);
    expect(html).toContain('hold-down</span>');
    expect(html).toContain('restores <time');
    expect(html).toContain(PLAIN.setSummary);
    expect(html).toContain(PLAIN.lastError);
    expect(html).toContain('Next retry');
    expect(html).toContain('in 2m 0s'); // the failure's retry, RETRY_AT = NOW + 2 min
    expect(html).toContain(escaped(PLAIN.switchError));
    expect(html).toContain(PLAIN.auditDetail);
    expect(html).toContain('2 jobs dead-lettered');
    expect(html).toContain(PLAIN.healthDetail);
    expect(html).toContain('2.4 Mpps / 9.8 Gbps');
  });

  it('is a self-refreshing, phone-ready page without script or external assets', async () => {
    // Prepare / Act
    const html = await pageFor();

    // Assess
    expect(html.startsWith('<!DOCTYPE html><html lang="en">')).toBe(true);
    expect(html).toContain(`<meta http-equiv="refresh" content="${REFRESH_SECONDS}"/>`);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1"/>');
    expect(html).toContain('@media (max-width:700px)');
    expect(html).toContain('data-label="Address"');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/\b(?:src|href)="(?:https?:)?\/\//i);
    expect(tagsOf(html).every((tag) => !/\son\w+=/i.test(tag))).toBe(true);
  });

  it('says so when there is nothing to show', async () => {
    // Prepare
    const store = SqliteStateStore.open(':memory:');
    stores.push(store);
    const view = await collectStatusView({
      store,
      queue: { stats: async () => ({ visible: 0, inFlight: 0, dead: 0 }) },
      runtime: () => ({ startedAt: NOW, health: new Map() }),
      integrations: [],
      now: () => NOW,
      token: undefined,
    });

    // Act
    const html = await renderStatusPage(view);

    // Assess
    expect(html).toContain('No active incident.');
    expect(html).toContain('No failure.');
    expect(html).toContain('Nothing recorded yet.');
    expect(html).not.toContain('Needs a look');
  });

  it('shows the "+N more" row of a cut list', async () => {
    // Prepare
    const view = await collectStatusView((await seededDeps().then((deps) => (stores.push(deps.store), deps))));
    const cut: StatusView = { ...view, blocklists: view.blocklists.map((list) => ({ ...list, blocks: { ...list.blocks, more: 1234 } })) };

    // Act
    const html = await renderStatusPage(cut);

    // Assess
    expect(html).toContain('+1234 more (see /status.json or relay status --json)');
  });
});

describe('renderStatusPage against markup in every webhook and device string', () => {
  it('escapes all of it: no injected tag, no event handler attribute, and the text is still shown', async () => {
    // Prepare
    const strings = hostileStrings();

    // Act
    const html = await pageFor(strings);

    // Assess
    // (Booleans, not toContain: a failure must not print the whole page.)
    for (const payload of PAYLOADS) expect(html.includes(payload), `unescaped: ${payload}`).toBe(false);
    expect(/<script/i.test(html), 'a <script tag').toBe(false);
    expect(/<img/i.test(html), 'an <img tag').toBe(false);
    const tags = tagsOf(html);
    expect(tags.filter((tag) => /\son\w+\s*=/i.test(tag))).toEqual([]);
    const names = new Set(tags.map((tag) => /^<(!?[a-zA-Z0-9-]+)/.exec(tag)![1]!.toLowerCase()));
    expect([...names].filter((name) => !USED_TAGS.has(name))).toEqual([]);
    // Each field is on the page, escaped (noticeMessage is not used by the seed).
    const shown = (Object.keys(strings) as (keyof SeedStrings)[]).filter((field) => field !== 'noticeMessage');
    const missing = shown.filter((field) => !html.includes(escaped(strings[field])));
    expect(missing).toEqual([]);
  });
});
