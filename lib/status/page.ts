/**
 * The status page as server-rendered HTML, built with hono/jsx's `jsx()`
 * calls (no JSX syntax: Node runs this project's TypeScript by type
 * stripping, which has no JSX transform). hono escapes every child string
 * and attribute value, so nothing from a webhook or a device can become
 * markup; the only raw HTML is the constant doctype and style sheet below.
 *
 * No script, no external asset: the page refreshes itself every
 * REFRESH_SECONDS with a meta refresh, and its CSS is inline (allowed by the
 * page's Content-Security-Policy, see routes.ts). At phone width every table
 * turns into stacked label/value cards.
 */
import { jsx, type Child } from 'hono/jsx';
import { raw } from 'hono/html';
import type { AuditEntry } from '../model/types.ts';
import type { BlocklistView, BlockView, FailureView, IncidentView, IntegrationHealthView, StatusView, SwitchView } from './types.ts';

export const REFRESH_SECONDS = 10;

const h = (tag: string, props: Record<string, unknown> | null, ...children: Child[]) => jsx(tag, props, ...children);

const CSS = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1b1f24;--muted:#5b6673;--line:#d9dee4;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--info:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--info:#58a6ff}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1200px;margin:0 auto;padding:12px}
header h1{font-size:20px;margin:4px 0}
.sub{color:var(--muted);font-size:12px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin:12px 0}
h2{font-size:16px;margin:0 0 8px}
h3{font-size:14px;margin:12px 0 6px}
.attention{border-color:var(--warn)}
.attention li{color:var(--warn)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:8px;margin:0 0 8px}
.grid div{border:1px solid var(--line);border-radius:6px;padding:6px 8px}
.grid dt{color:var(--muted);font-size:12px}
.grid dd{margin:0;font-weight:600}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:5px 8px;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:600;font-size:12px;white-space:nowrap}
td{overflow-wrap:break-word}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
.badge{display:inline-block;padding:0 6px;border-radius:10px;border:1px solid currentColor;font-size:12px;white-space:nowrap}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.info{color:var(--info)}.muted{color:var(--muted)}
.empty{color:var(--muted);margin:4px 0}
.more td{color:var(--muted);font-style:italic}
@media (max-width:700px){
 main{padding:6px}
 table,thead,tbody,tr,th,td{display:block;width:100%}
 thead{display:none}
 tr{border:1px solid var(--line);border-radius:6px;margin:0 0 8px;padding:4px 0}
 td{border:0;padding:3px 8px;display:grid;grid-template-columns:38% minmax(0,1fr);gap:6px;overflow-wrap:anywhere}
 td::before{content:attr(data-label);color:var(--muted);font-size:12px}
 td:empty{display:none}
 .more td{display:block}
 .more td::before{content:none}
}
`;

/** Status words → the class of their colour (a fixed table: no input reaches a class name). */
const TONE: Record<string, string> = {
  applied: 'ok',
  on: 'info',
  ok: 'ok',
  removed: 'muted',
  off: 'muted',
  pending: 'warn',
  removing: 'warn',
  'turning-on': 'warn',
  restoring: 'warn',
  'hold-down': 'info',
  deferred: 'warn',
  partial: 'warn',
  failed: 'bad',
  'changed-by-others': 'bad',
};

function badge(word: string): Child {
  return h('span', { class: `badge ${TONE[word] ?? 'muted'}` }, word);
}

function iso(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** "1h 4m", "45s", "2d 3h". */
export function duration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function relative(ms: number | undefined, now: number): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const delta = ms - now;
  if (Math.abs(delta) < 1000) return 'now';
  return delta > 0 ? `in ${duration(delta)}` : `${duration(delta)} ago`;
}

/** A time as "3m 2s ago" with the exact UTC time as its tooltip. */
function when(ms: number | undefined, now: number): Child {
  if (ms === undefined) return '—';
  return h('time', { datetime: new Date(ms).toISOString(), title: iso(ms) }, relative(ms, now));
}

/** The webhook's start time: relative when it parses, else as given (escaped). */
function startedCell(startedAt: string, now: number): Child {
  const at = Date.parse(startedAt);
  return Number.isFinite(at) ? when(at, now) : startedAt;
}

function rate(value: number | undefined, unit: string): string | undefined {
  if (value === undefined || !Number.isFinite(value)) return undefined;
  const steps: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, prefix] of steps) if (Math.abs(value) >= size) return `${(value / size).toFixed(1)} ${prefix}${unit}`;
  return `${Math.round(value)} ${unit}`;
}

/** A table whose cells carry their column's name (shown as the label when the table is stacked on a phone). */
function table(columns: string[], rows: Child[][], more = 0, moreLabel = 'more'): Child {
  const body = rows.map((cells) => h('tr', null, ...cells.map((cell, index) => h('td', { 'data-label': columns[index] ?? '' }, cell))));
  if (more > 0) body.push(h('tr', { class: 'more' }, h('td', { colspan: columns.length }, `+${more} ${moreLabel}`)));
  return h(
    'div',
    { class: 'scroll' },
    h('table', null, h('thead', null, h('tr', null, ...columns.map((column) => h('th', { scope: 'col' }, column)))), h('tbody', null, ...body)),
  );
}

function section(id: string, title: string, ...children: Child[]): Child {
  return h('section', { id, 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), ...children);
}

function fact(label: string, value: Child): Child {
  return h('div', null, h('dt', null, label), h('dd', null, value));
}

function healthSection(view: StatusView): Child {
  const { health, generatedAt: now } = view;
  const queue = health.queue;
  const integrationRows = health.integrations.map((integration: IntegrationHealthView) => [
    h('span', { class: 'mono' }, integration.id),
    integration.type,
    integration.kind,
    integration.health ? badge(integration.health.ok ? 'ok' : 'failed') : h('span', { class: 'muted' }, 'not checked yet'),
    integration.health?.detail ?? '',
    when(integration.health?.at, now),
  ]);
  return section(
    'health',
    'Health',
    h(
      'dl',
      { class: 'grid' },
      fact('Running since', when(health.startedAt, now)),
      fact('Last sweep', when(health.lastSweepAt, now)),
      fact('Last drift check', when(health.lastDriftCheckAt, now)),
      fact('Queue', `${queue.waiting} waiting, ${queue.inFlight} in flight`),
      fact('Oldest job', queue.oldestAgeMs === undefined ? 'none' : duration(queue.oldestAgeMs)),
      fact('Dead-lettered', h('span', { class: queue.dead > 0 ? 'bad' : '' }, String(queue.dead))),
    ),
    health.integrations.length === 0
      ? h('p', { class: 'empty' }, 'No integrations configured.')
      : table(['Integration', 'Type', 'Kind', 'Health', 'Detail', 'Checked'], integrationRows),
  );
}

function incidentsSection(view: StatusView): Child {
  const now = view.generatedAt;
  const rows = view.incidents.items.map((incident: IncidentView) => [
    h('div', null, h('div', { class: 'mono' }, incident.uuid), incident.title ? h('div', { class: 'muted' }, incident.title) : null),
    h('div', null, incident.node?.name ?? '', incident.node?.ip ? h('div', { class: 'mono' }, incident.node.ip) : null),
    incident.family ?? '—',
    startedCell(incident.startedAt, now),
    `${incident.attackers} (${incident.blocksHeld} block${incident.blocksHeld === 1 ? '' : 's'}${incident.switches > 0 ? `, ${incident.switches} switch${incident.switches === 1 ? '' : 'es'}` : ''})`,
    incident.severity ?? '—',
    [rate(incident.peakPps, 'pps'), rate(incident.peakBps, 'bps')].filter((part) => part !== undefined).join(' / ') || '—',
    when(incident.lastEventAt, now),
  ]);
  return section(
    'incidents',
    `Active incidents (${view.incidents.items.length + view.incidents.more})`,
    rows.length === 0
      ? h('p', { class: 'empty' }, 'No active incident.')
      : table(['Incident', 'Target node', 'Vector', 'Started', 'Attackers blocked', 'Severity', 'Peak', 'Last event'], rows, view.incidents.more, 'more incidents'),
  );
}

function blockRows(blocks: BlockView[], now: number): Child[][] {
  return blocks.map((block) => [
    h('span', { class: 'mono' }, block.address),
    h('span', null, badge(block.status), block.foreign ? h('div', { class: 'muted' }, 'present, not ours: never removed') : null),
    String(block.holders),
    h('span', { title: iso(block.expiresAt) }, block.timeLeftMs > 0 ? duration(block.timeLeftMs) : 'expired'),
    when(block.addedAt, now),
    when(block.lastAttemptAt, now),
    block.lastError ? h('span', { class: 'bad' }, block.lastError) : '',
  ]);
}

function blocklistsSection(view: StatusView): Child {
  const now = view.generatedAt;
  const parts = view.blocklists.map((list: BlocklistView) => {
    const counts = Object.entries(list.counts)
      .map(([status, count]) => `${count} ${status}`)
      .join(', ');
    return h(
      'div',
      null,
      h(
        'h3',
        null,
        h('span', { class: 'mono' }, list.id),
        ` (${list.type})`,
        list.configured ? '' : h('span', { class: 'warn' }, ' no longer configured'),
        h('span', { class: 'muted' }, ` ${counts || 'nothing held'}`),
      ),
      list.blocks.items.length === 0
        ? h('p', { class: 'empty' }, 'No blocks.')
        : table(
            ['Address', 'Status', 'Held by', 'Time left', 'Added', 'Last verified', 'Last error'],
            blockRows(list.blocks.items, now),
            list.blocks.more,
            'more (see /status.json or relay status --json)',
          ),
    );
  });
  return section('blocks', 'Blocks', ...(parts.length === 0 ? [h('p', { class: 'empty' }, 'No blocklist integration.')] : parts));
}

function switchesSection(view: StatusView): Child {
  const now = view.generatedAt;
  const rows = view.switches.map((item: SwitchView) => [
    h('span', null, h('span', { class: 'mono' }, item.id), ` (${item.type})`, item.configured ? null : h('div', { class: 'warn' }, 'no longer configured')),
    badge(item.state),
    item.holders.items.length === 0
      ? h('span', { class: 'muted' }, 'none')
      : h('div', null, ...item.holders.items.map((holder) => h('div', { class: 'mono' }, holder)), item.holders.more > 0 ? `+${item.holders.more} more` : null),
    item.holdDownEndsAt === undefined ? '—' : h('span', null, 'restores ', when(item.holdDownEndsAt, now)),
    item.activation ? `${item.activation.summary}${item.activation.confirmed ? '' : ' (not confirmed yet)'}` : '—',
    item.found ? `${item.found.summary}${item.found.alreadyActive ? ' (already active before the relay: never turned off by it)' : ''}` : '—',
    item.lastError ? h('span', null, h('span', { class: 'bad' }, item.lastError), h('div', null, 'next attempt ', when(item.nextAttemptAt, now))) : '',
  ]);
  return section(
    'switches',
    'Switches',
    rows.length === 0 ? h('p', { class: 'empty' }, 'No switch integration.') : table(['Integration', 'State', 'Held by', 'Hold-down', 'Set', 'Found', 'Last error'], rows),
  );
}

function failuresSection(view: StatusView): Child {
  const now = view.generatedAt;
  const rows = view.failures.items.map((failure: FailureView) => [
    h('span', { class: 'mono' }, failure.integration),
    h('span', { class: 'mono' }, failure.kind === 'switch' ? 'switch' : failure.key),
    badge(failure.status),
    String(failure.attempts),
    h('span', { class: 'bad' }, failure.lastError),
    when(failure.lastAttemptAt, now),
    when(failure.nextRetryAt, now),
  ]);
  return section(
    'failures',
    `Failures (${view.failures.items.length + view.failures.more})`,
    rows.length === 0
      ? h('p', { class: 'empty' }, 'No failure.')
      : table(['Integration', 'Target', 'Status', 'Attempts', 'Last error', 'Last attempt', 'Next retry'], rows, view.failures.more, 'more failures'),
  );
}

function noticesSection(view: StatusView): Child {
  const now = view.generatedAt;
  if (view.notices.items.length === 0) return null;
  const rows = view.notices.items.map((notice) => [h('span', { class: 'mono' }, notice.integration), when(notice.at, now), notice.message]);
  return section(
    'notices',
    `Changed by others (${view.notices.items.length + view.notices.more})`,
    h('p', { class: 'muted' }, 'Someone else changed what the relay had set during the attack; the relay left it alone and did not restore it.'),
    table(['Integration', 'When', 'What happened'], rows, view.notices.more, 'more notices'),
  );
}

function auditSection(view: StatusView): Child {
  const now = view.generatedAt;
  const rows = view.audit.map((entry: AuditEntry) => [
    when(entry.at, now),
    entry.action,
    entry.integration === undefined ? '—' : h('span', { class: 'mono' }, entry.integration),
    entry.incident === undefined ? '—' : h('span', { class: 'mono' }, entry.incident),
    String(entry.count),
    badge(entry.outcome),
    entry.detail ?? '',
  ]);
  return section(
    'audit',
    'Recent activity',
    rows.length === 0 ? h('p', { class: 'empty' }, 'Nothing recorded yet.') : table(['When', 'Action', 'Integration', 'Incident', 'Count', 'Outcome', 'Detail'], rows),
  );
}

/** The whole page as an HTML string. */
export async function renderStatusPage(view: StatusView): Promise<string> {
  const attention =
    view.health.attention.length === 0
      ? null
      : h('section', { class: 'attention', id: 'attention' }, h('h2', null, 'Needs a look'), h('ul', null, ...view.health.attention.map((line) => h('li', null, line))));
  const document = h(
    'html',
    { lang: 'en' },
    h(
      'head',
      null,
      h('meta', { charset: 'utf-8' }),
      h('meta', { name: 'viewport', content: 'width=device-width, initial-scale=1' }),
      h('meta', { 'http-equiv': 'refresh', content: String(REFRESH_SECONDS) }),
      h('meta', { name: 'robots', content: 'noindex, nofollow' }),
      h('meta', { name: 'referrer', content: 'no-referrer' }),
      h('title', null, 'Flowtriq Relay status'),
      // An empty icon: the browser asks for no /favicon.ico.
      h('link', { rel: 'icon', href: 'data:,' }),
      h('style', null, raw(CSS)),
    ),
    h(
      'body',
      null,
      h(
        'main',
        null,
        h(
          'header',
          null,
          h('h1', null, 'Flowtriq Relay status'),
          h('div', { class: 'sub' }, `Updated ${iso(view.generatedAt)}; refreshes every ${REFRESH_SECONDS} s. `, h('a', { href: 'status.json' }, 'JSON')),
        ),
        attention,
        healthSection(view),
        incidentsSection(view),
        blocklistsSection(view),
        switchesSection(view),
        failuresSection(view),
        noticesSection(view),
        auditSection(view),
      ),
    ),
  );
  return `<!DOCTYPE html>${await document.toString()}`;
}
