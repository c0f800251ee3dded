/**
 * Network namespaces for the host firewall tests (nftables, ipset): each
 * test file makes its own named namespaces (`ip netns add`), joins them with
 * veth pairs created directly inside them, runs nft/ipset/iptables there
 * through `ip netns exec <ns>` and deletes everything in afterAll. The
 * machine's own rules and interfaces are never touched.
 *
 * Works as root, both on the host and inside the private network namespace
 * `npm test` runs vitest in (`unshare --net`): `ip netns add` only needs
 * /run/netns, which the mount namespace shares. Names carry the process id
 * and a random part, so parallel test files never collide; a process exit
 * handler deletes namespaces an aborted run left behind.
 *
 * Not root (or the tools missing): the tests skip with the reason, except
 * with CI=true, where they run and fail with it (never a silent skip).
 * Install the tools with `node scripts/engines/netfilter.mjs`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createHostCommandRunner, resolveExecutable, type HostCommandResult, type HostCommandRunner } from '../../lib/providers/host-command.ts';

/** Longest any helper command may take. */
const COMMAND_TIMEOUT_MS = 10_000;

export interface NetnsAvailability {
  /** Skip the suite (only ever outside CI). */
  skip: boolean;
  /** Why namespaces cannot be used here; undefined when they can. */
  reason?: string;
}

function probe(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces and netfilter need root (run the tests as root)';
  const missing = ['ip', 'nft', 'ipset', 'iptables', 'ip6tables'].filter((tool) => !resolveExecutable(tool));
  if (missing.length > 0) return `${missing.join(', ')} not installed: run \`node scripts/engines/netfilter.mjs\``;
  const name = `ftr-probe-${process.pid}-${randomBytes(3).toString('hex')}`;
  const add = spawnSync(resolveExecutable('ip')!, ['netns', 'add', name], { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS });
  if (add.status !== 0) return `\`ip netns add\` failed: ${(add.stderr || add.error?.message || '').trim()}`;
  spawnSync(resolveExecutable('ip')!, ['netns', 'delete', name], { timeout: COMMAND_TIMEOUT_MS });
  return undefined;
}

let availability: NetnsAvailability | undefined;

/** Whether the namespace tests can run here; outside CI an unusable machine means skip (with a warning). */
export function netnsAvailability(): NetnsAvailability {
  if (availability) return availability;
  const reason = probe();
  const ci = process.env.CI === 'true' || process.env.CI === '1';
  availability = reason === undefined ? { skip: false } : { skip: !ci, reason };
  if (availability.skip) console.warn(`[netns] skipping the real-kernel firewall tests: ${reason} (with CI=true they fail instead)`);
  return availability;
}

/** Throws the reason namespaces are unusable (call in beforeAll: with CI=true the suite then fails, never skips). */
export function assertNetnsUsable(): void {
  const { reason } = netnsAvailability();
  if (reason !== undefined) throw new Error(`the real-kernel firewall tests cannot run: ${reason}`);
}

/** Namespaces this process made and has not deleted yet. */
const live = new Set<string>();
process.once('exit', () => {
  for (const name of live) spawnSync(resolveExecutable('ip') ?? 'ip', ['netns', 'delete', name], { timeout: COMMAND_TIMEOUT_MS, stdio: 'ignore' });
});

/** A named network namespace. */
export class Netns {
  readonly name: string;
  /** Runs a tool inside the namespace (`ip netns exec <name> …`), bounded in time. */
  readonly run: HostCommandRunner;

  constructor(name: string) {
    this.name = name;
    this.run = createHostCommandRunner({ prefix: ['ip', 'netns', 'exec', name], timeoutMs: COMMAND_TIMEOUT_MS });
  }

  /** Runs a tool inside the namespace; throws with its message unless it exits 0. */
  async exec(command: string, args: readonly string[], stdin?: string): Promise<HostCommandResult> {
    const result = await this.run({ command, args, ...(stdin === undefined ? {} : { stdin }) });
    if (result.code !== 0) {
      throw new Error(`${command} ${args.join(' ')} failed in ${this.name} (exit ${result.code}): ${result.stderr.trim()}`);
    }
    return result;
  }

  /** Loads an nft ruleset text (`nft -f -`). */
  nft(ruleset: string): Promise<HostCommandResult> {
    return this.exec('nft', ['-f', '-'], ruleset);
  }
}

async function ip(args: readonly string[]): Promise<void> {
  const run = createHostCommandRunner({ timeoutMs: COMMAND_TIMEOUT_MS });
  const result = await run({ command: 'ip', args });
  if (result.code !== 0) throw new Error(`ip ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
}

/** Makes a namespace with its loopback up. `label`: a few letters naming its role. */
export async function createNetns(label: string): Promise<Netns> {
  const name = `ftr-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
  await ip(['netns', 'add', name]);
  live.add(name);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  return new Netns(name);
}

/** Deletes a namespace (and with it its interfaces, rules and sets). Idempotent. */
export async function deleteNetns(ns: Netns | undefined): Promise<void> {
  if (!ns || !live.has(ns.name)) return;
  await ip(['netns', 'delete', ns.name]);
  live.delete(ns.name);
}

export interface VethEnd {
  ns: Netns;
  /** Interface name (at most 15 characters). */
  ifname: string;
  /** Addresses with prefix length, e.g. 198.51.100.1/24 or 2001:db8:1::1/64. */
  addresses: string[];
}

/**
 * Joins two namespaces with a veth pair made directly inside them (it never
 * appears in the test process's own namespace), addresses added (IPv6
 * without duplicate address detection, so they are usable at once), links up.
 */
export async function connectVeth(a: VethEnd, b: VethEnd): Promise<void> {
  await ip(['-n', a.ns.name, 'link', 'add', a.ifname, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.ns.name]);
  for (const end of [a, b]) {
    for (const address of end.addresses) {
      await ip(['-n', end.ns.name, 'addr', 'add', address, 'dev', end.ifname, ...(address.includes(':') ? ['nodad'] : [])]);
    }
    await ip(['-n', end.ns.name, 'link', 'set', end.ifname, 'up']);
  }
}

/** A UDP echo server running inside a namespace. */
export interface UdpEcho {
  port: number;
  stop(): Promise<void>;
}

const ECHO_SERVER = `
const dgram = require('node:dgram');
const port = Number(process.argv[1]);
let ready = 0;
for (const type of ['udp4', 'udp6']) {
  const socket = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
  socket.on('message', (message, remote) => socket.send(message, remote.port, remote.address));
  socket.bind(port, type === 'udp4' ? '0.0.0.0' : '::', () => { if (++ready === 2) process.stdout.write('ready\\n'); });
}
setTimeout(() => process.exit(0), 120000).unref();
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

/** Starts a UDP echo server (IPv4 and IPv6, any address) in `ns`; it exits when stopped, or after 2 minutes at most. */
export async function startUdpEcho(ns: Netns, port = 7007): Promise<UdpEcho> {
  const child = spawn(resolveExecutable('ip')!, ['netns', 'exec', ns.name, process.execPath, '-e', ECHO_SERVER, String(port)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`UDP echo server in ${ns.name} did not start: ${stderr}`));
    }, COMMAND_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`UDP echo server in ${ns.name} exited (${code}): ${stderr}`));
    });
  });
  return {
    port,
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

const PROBE_CLIENT = `
const dgram = require('node:dgram');
const [source, target, port, waitMs] = process.argv.slice(1);
const socket = dgram.createSocket(target.includes(':') ? 'udp6' : 'udp4');
socket.on('message', () => process.exit(0));
socket.bind(0, source, () => socket.send('probe', Number(port), target));
setTimeout(() => process.exit(2), Number(waitMs));
`;

/**
 * Sends one UDP datagram from `source` (an address of `from`) to
 * `target:port` and waits up to `waitMs` for the echo. True: it came back
 * (the packet passed); false: nothing came back (dropped).
 */
export async function udpPasses(from: Netns, source: string, target: string, port: number, waitMs = 1_500): Promise<boolean> {
  const result = await from.run({ command: process.execPath, args: ['-e', PROBE_CLIENT, source, target, String(port), String(waitMs)], timeoutMs: waitMs + 5_000 });
  if (result.code === 0) return true;
  if (result.code === 2) return false;
  throw new Error(`UDP probe from ${source} to ${target} failed (exit ${result.code}): ${result.stderr.trim()}`);
}
