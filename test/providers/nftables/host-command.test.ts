/**
 * The shared runner for host tools (lib/providers/host-command.ts), with
 * ordinary programs standing in for nft/ipset: argument arrays, stdin,
 * bounded time and output, and the two errors users meet most.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HostCommandAbortedError,
  HostCommandNotFoundError,
  HostCommandOutputLimitError,
  HostCommandPermissionError,
  HostCommandTimeoutError,
  createHostCommandRunner,
  firstErrorLine,
  resolveExecutable,
} from '../../../lib/providers/host-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'ftr-host-command-'));
/** A stand-in tool: prints its arguments, copies stdin, can fail like nft without CAP_NET_ADMIN. */
const fakeTool = join(dir, 'nft');
writeFileSync(
  fakeTool,
  `#!/bin/sh
case "$1" in
  denied) echo "netlink: Error: cache initialization failed: Operation not permitted" >&2; exit 1 ;;
  fail) echo "Error: No such file or directory" >&2; exit 1 ;;
  sleep) exec sleep 30 ;;
  flood) exec yes ;;
  stdin) exec cat ;;
  *) printf '%s|' "$@" ;;
esac
`,
  { mode: 0o755 },
);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('createHostCommandRunner', () => {
  const run = createHostCommandRunner({ directories: [dir], timeoutMs: 5_000 });

  it('passes arguments as an array, never through a shell', async () => {
    // Prepare
    const args = ['list', '$(touch /tmp/ftr-pwned)', 'a b', ';', '|'];

    // Act
    const result = await run({ command: 'nft', args });

    // Assess
    expect(result).toEqual({ code: 0, stdout: 'list|$(touch /tmp/ftr-pwned)|a b|;|||', stderr: '' });
  });

  it('writes stdin to the tool', async () => {
    // Act
    const result = await run({ command: 'nft', args: ['stdin'], stdin: 'create element inet t s { 192.0.2.1 }\n' });

    // Assess
    expect(result.stdout).toBe('create element inet t s { 192.0.2.1 }\n');
  });

  it('returns a failing exit with its message (the provider reads it)', async () => {
    // Act
    const result = await run({ command: 'nft', args: ['fail'] });

    // Assess
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'Error: No such file or directory\n' });
  });

  it('"Operation not permitted" is thrown as a permission error naming root and CAP_NET_ADMIN', async () => {
    // Act
    const error = await run({ command: 'nft', args: ['denied'] }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(HostCommandPermissionError);
    expect(error).toMatchObject({ retryable: false });
    expect(String(error)).toMatch(/nft was refused by the kernel \(netlink: Error: cache initialization failed: Operation not permitted\): the relay needs root or the CAP_NET_ADMIN capability/);
  });

  it('a missing tool names the Debian package that provides it, without spawning anything', async () => {
    // Act
    const nft = await createHostCommandRunner({ directories: ['/nonexistent-ftr'] })({ command: 'nft', args: [] }).catch((caught: unknown) => caught);
    const ipset = await createHostCommandRunner({ directories: ['/nonexistent-ftr'] })({ command: 'ipset', args: [] }).catch((caught: unknown) => caught);

    // Assess
    expect(nft).toBeInstanceOf(HostCommandNotFoundError);
    expect(String(nft)).toMatch(/nft is not installed or not on PATH .*: install the Debian package nftables \(apt-get install nftables\)/);
    expect(String(ipset)).toMatch(/install the Debian package ipset \(apt-get install ipset\)/);
    expect(nft).toMatchObject({ retryable: false });
  });

  it('kills a tool that runs past its timeout', async () => {
    // Prepare
    const started = Date.now();

    // Act
    const error = await run({ command: 'nft', args: ['sleep'], timeoutMs: 200 }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(HostCommandTimeoutError);
    expect(error).toMatchObject({ retryable: true });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('kills a tool when the caller aborts', async () => {
    // Prepare
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);

    // Act
    const error = await run({ command: 'nft', args: ['sleep'], signal: controller.signal }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(HostCommandAbortedError);
  });

  it('kills a tool that prints more than the cap', async () => {
    // Prepare
    const capped = createHostCommandRunner({ directories: [dir], maxOutputBytes: 64 * 1024 });

    // Act
    const error = await capped({ command: 'nft', args: ['flood'] }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(HostCommandOutputLimitError);
  });

  it('runs the tool through a prefix with the tool resolved to its absolute path', async () => {
    // Prepare: `env` as the prefix stands in for `ip netns exec <ns>`
    const prefixed = createHostCommandRunner({ prefix: ['env'], directories: [dir, '/usr/bin', '/bin'] });

    // Act
    const result = await prefixed({ command: 'nft', args: ['x'] });

    // Assess
    expect(result.stdout).toBe('x|');
  });
});

describe('helpers', () => {
  it('resolveExecutable finds tools on PATH or in the sbin folders, and nothing that is not executable', () => {
    // Prepare
    writeFileSync(join(dir, 'plain'), 'not a program', { mode: 0o644 });

    // Act
    const found = resolveExecutable('nft', '', [dir]);
    const notExecutable = resolveExecutable('plain', '', [dir]);
    const absent = resolveExecutable('nft', '', ['/nonexistent-ftr']);

    // Assess
    expect(found).toBe(fakeTool);
    expect(notExecutable).toBeUndefined();
    expect(absent).toBeUndefined();
  });

  it('firstErrorLine picks the line that says what went wrong', () => {
    // Act
    const line = firstErrorLine('\ninternal:0:0-0: Error: Could not process rule: File exists\n\n');

    // Assess
    expect(line).toBe('internal:0:0-0: Error: Could not process rule: File exists');
  });
});
