/**
 * Runs the host firewall tools (`nft`, `ipset`) for the providers that manage
 * the protected Linux host itself (one-box mode).
 *
 * - Always an argument array, never a shell: nothing the relay passes is
 *   interpreted by `sh`. Batches go to the tool's standard input.
 * - The binary is looked up on PATH and in the sbin folders (often missing
 *   from a service's PATH) before anything is spawned, so a missing tool is
 *   reported as such, with the Debian package that provides it.
 * - Bounded: a timeout (SIGKILL when it passes), the caller's abort signal,
 *   and a cap on what is read back.
 * - `LC_ALL=C`, so the tools' messages are the English ones the providers
 *   recognise.
 * - A `prefix` runs every command through another one, e.g.
 *   `['ip', 'netns', 'exec', 'ns1']` to act inside a network namespace (the
 *   tests do that; the relay itself never needs it).
 *
 * A non-zero exit is returned, not thrown (the providers read the tools'
 * messages), except when the message says the kernel refused the caller
 * ("Operation not permitted"): that is thrown as HostCommandPermissionError
 * because no retry can help without the operator.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ProviderError } from './errors.ts';

/** The Debian package that provides each tool the providers run. */
export const DEBIAN_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  nft: 'nftables',
  ipset: 'ipset',
  iptables: 'iptables',
  ip6tables: 'iptables',
  ip: 'iproute2',
});

/** Searched after PATH: a service's PATH often lacks the sbin folders where these tools live. */
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/local/sbin', '/usr/bin', '/bin'];

/** Default longest run of one command. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
/** Default cap on stdout + stderr read back (a set of 65,536 elements lists in a few MB). */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export interface HostCommand {
  /** The tool, e.g. `nft`: a bare name (looked up) or an absolute path. */
  command: string;
  args: readonly string[];
  /** Written to the tool's standard input, which is then closed. */
  stdin?: string;
  /** Overrides the runner's timeout for this command. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HostCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one command. Implementations must keep the contract above (tests inject fakes). */
export type HostCommandRunner = (command: HostCommand) => Promise<HostCommandResult>;

export interface HostCommandRunnerOptions {
  /** Run every command through this one, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  prefix?: readonly string[];
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Where tools are looked up; defaults to process.env.PATH plus the sbin folders. */
  path?: string;
  /** Look only in these folders (replaces PATH and the sbin folders; tests use it to simulate a missing tool). */
  directories?: readonly string[];
}

/** Base of the runner's failures. */
export class HostCommandError extends ProviderError {
  readonly command: string;
  constructor(command: string, message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options);
    this.command = command;
  }
}

/** The tool is not installed (or not where the relay looks). */
export class HostCommandNotFoundError extends HostCommandError {
  constructor(command: string, cause?: unknown) {
    const pkg = DEBIAN_PACKAGES[baseName(command)];
    super(
      command,
      `${command} is not installed or not on PATH (also looked in ${EXTRA_DIRS.join(', ')})` +
        (pkg ? `: install the Debian package ${pkg} (apt-get install ${pkg})` : ''),
      { retryable: false, cause },
    );
  }
}

/** The kernel refused: the relay runs without root or CAP_NET_ADMIN. */
export class HostCommandPermissionError extends HostCommandError {
  constructor(command: string, detail: string) {
    super(
      command,
      `${command} was refused by the kernel (${detail}): the relay needs root or the CAP_NET_ADMIN capability ` +
        '(systemd: AmbientCapabilities=CAP_NET_ADMIN and CapabilityBoundingSet=CAP_NET_ADMIN in the unit)',
      { retryable: false },
    );
  }
}

/** The command ran longer than its timeout and was killed. */
export class HostCommandTimeoutError extends HostCommandError {
  constructor(command: string, timeoutMs: number) {
    super(command, `${command} did not finish within ${timeoutMs} ms and was killed`, { retryable: true });
  }
}

/** The caller's signal aborted the command (it was killed). */
export class HostCommandAbortedError extends HostCommandError {
  constructor(command: string) {
    super(command, `${command} was aborted`, { retryable: true });
  }
}

/** The command printed more than the runner reads back. */
export class HostCommandOutputLimitError extends HostCommandError {
  constructor(command: string, limit: number) {
    super(command, `${command} printed more than ${limit} bytes and was killed`, { retryable: false });
  }
}

/** The command could not be started for another reason. */
export class HostCommandSpawnError extends HostCommandError {
  constructor(command: string, cause: unknown) {
    super(command, `${command} could not be started: ${cause instanceof Error ? cause.message : String(cause)}`, {
      retryable: true,
      cause,
    });
  }
}

/** The kernel refused the caller. */
const PERMISSION = /Operation not permitted|you must be root/i;
/** `ip netns exec` could not start the tool (the prefix's own message). */
const PREFIXED_NOT_FOUND = /exec of "[^"]*" failed: No such file or directory/;

function baseName(command: string): string {
  return command.slice(command.lastIndexOf('/') + 1);
}

/** The first line of a tool's message that says what went wrong, trimmed for an error message. */
export function firstErrorLine(text: string): string {
  const lines = text.split('\n').map((line) => line.trim()).filter(Boolean);
  const line = lines.find((candidate) => /error|not permitted|denied|failed/i.test(candidate)) ?? lines[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** Absolute path of an executable `name` in `path` (':'-separated) or the sbin folders; undefined when absent. */
export function resolveExecutable(
  name: string,
  path: string = process.env.PATH ?? '',
  directories: readonly string[] = [...path.split(delimiter).filter((dir) => isAbsolute(dir)), ...EXTRA_DIRS],
): string | undefined {
  const candidates = isAbsolute(name) ? [name] : directories.map((dir) => join(dir, name));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there, or not executable: try the next one
    }
  }
  return undefined;
}

/** The runner the providers use by default. */
export function createHostCommandRunner(options: HostCommandRunnerOptions = {}): HostCommandRunner {
  const prefix = options.prefix ?? [];
  const defaultTimeout = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const maxOutput = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const lookupPath = options.path ?? process.env.PATH ?? '';
  const resolve = (name: string) =>
    options.directories ? resolveExecutable(name, lookupPath, options.directories) : resolveExecutable(name, lookupPath);

  return async (command) => {
    const name = command.command;
    const tool = resolve(name);
    if (!tool) throw new HostCommandNotFoundError(name);
    let file = tool;
    let args: string[] = [...command.args];
    if (prefix.length > 0) {
      const first = prefix[0]!;
      const launcher = resolve(first);
      if (!launcher) throw new HostCommandNotFoundError(first);
      file = launcher;
      args = [...prefix.slice(1), tool, ...command.args];
    }
    const timeoutMs = command.timeoutMs ?? defaultTimeout;
    const result = await spawnBounded(name, file, args, command.stdin, timeoutMs, maxOutput, command.signal);
    if (result.code !== 0) {
      if (prefix.length > 0 && PREFIXED_NOT_FOUND.test(result.stderr)) throw new HostCommandNotFoundError(name);
      if (PERMISSION.test(result.stderr)) throw new HostCommandPermissionError(name, firstErrorLine(result.stderr));
    }
    return result;
  };
}

function spawnBounded(
  name: string,
  file: string,
  args: string[],
  stdin: string | undefined,
  timeoutMs: number,
  maxOutput: number,
  signal: AbortSignal | undefined,
): Promise<HostCommandResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new HostCommandAbortedError(name));
      return;
    }
    let settled = false;
    let failure: HostCommandError | undefined;
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
      shell: false,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let bytes = 0;
    const kill = (why: HostCommandError) => {
      failure ??= why;
      child.kill('SIGKILL');
    };
    const keep = (into: Buffer[]) => (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxOutput) {
        kill(new HostCommandOutputLimitError(name, maxOutput));
        return;
      }
      into.push(chunk);
    };
    child.stdout.on('data', keep(stdout));
    child.stderr.on('data', keep(stderr));
    const timer = setTimeout(() => kill(new HostCommandTimeoutError(name, timeoutMs)), timeoutMs);
    const onAbort = () => kill(new HostCommandAbortedError(name));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      outcome();
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      finish(() => reject(error.code === 'ENOENT' ? new HostCommandNotFoundError(name, error) : new HostCommandSpawnError(name, error)));
    });
    child.once('close', (code, killedBy) => {
      finish(() => {
        if (failure) {
          reject(failure);
          return;
        }
        resolve({
          code: code ?? (killedBy ? 128 : 1),
          stdout: Buffer.concat(stdout).toString('utf8'),
          stderr: Buffer.concat(stderr).toString('utf8'),
        });
      });
    });
    // A tool that exits before reading all of stdin closes the pipe: that is its exit status's business, not a crash.
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}
