/**
 * Local stand-ins for the AWS services the relay uses, for tests and local
 * runs: DynamoDB Local (the official Java engine) and fauxqs (an in-process
 * SQS emulator). Both are reached only through 127.0.0.1.
 *
 * Install DynamoDB Local first with `node scripts/engines/ensure.mjs`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `scripts/engines/ensure.mjs` installs DynamoDB Local. */
export const DYNAMODB_LOCAL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '.engines', 'dynamodb-local');

/** The region every local client uses (DynamoDB Local scopes tables per key + region). */
export const LOCAL_REGION = 'us-east-1';

/** Fake credentials shared by every local client (DynamoDB Local scopes tables per access key). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'relaylocal', secretAccessKey: 'relaylocal' } as const;

/** A running engine. */
export interface RunningEngine {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  stop(): Promise<void>;
}

/** SDK client options for a local engine: explicit endpoint, fake credentials, one region. */
export function localClientConfig(endpoint: string): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
} {
  return { endpoint, region: LOCAL_REGION, credentials: { ...LOCAL_CREDENTIALS }, maxAttempts: 2 };
}

/** Thrown when an engine is not installed; the message says how to install it. */
export class EngineMissingError extends Error {
  constructor(message: string) {
    super(`${message}. Run \`node scripts/engines/ensure.mjs\` to install the local engines.`);
    this.name = 'EngineMissingError';
  }
}

/** Throws EngineMissingError unless Java and the DynamoDB Local jar are present. */
export function assertDynamoDbLocalInstalled(dir: string = DYNAMODB_LOCAL_DIR): void {
  if (!existsSync(join(dir, 'DynamoDBLocal.jar'))) throw new EngineMissingError(`DynamoDB Local is not installed in ${dir}`);
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error || java.status !== 0) throw new EngineMissingError('Java (17+) is not available on PATH');
}

/** A currently free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * C1-only JIT: the engine lives for one test run, and skipping C2 compilation
 * roughly halved both startup and a 1,000-block workload on a 2-core machine.
 */
export const DEFAULT_DYNAMODB_JVM_ARGS: readonly string[] = ['-XX:TieredStopAtLevel=1'];

/** Options for {@link startDynamoDbLocal}. */
export interface DynamoDbLocalOptions {
  dir?: string;
  port?: number;
  /** Give up waiting for the first answer after this long. */
  readyTimeoutMs?: number;
  /** JVM options (before `-jar`). Default {@link DEFAULT_DYNAMODB_JVM_ARGS}. */
  jvmArgs?: string[];
}

/**
 * Starts DynamoDB Local in memory on a free port and waits until it answers
 * HTTP. It listens on every interface (no bind option); talk to it through
 * 127.0.0.1 only. Stop with `stop()` (SIGTERM, SIGKILL after 5 s).
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<RunningEngine> {
  const dir = options.dir ?? DYNAMODB_LOCAL_DIR;
  assertDynamoDbLocalInstalled(dir);
  // A free port can be taken before Java binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchDynamoDbLocal(dir, options.port ?? (await freePort()), options);
    } catch (error) {
      if (options.port !== undefined || attempt >= 3 || !(error instanceof EngineExitedError)) throw error;
    }
  }
}

class EngineExitedError extends Error {}

async function launchDynamoDbLocal(dir: string, port: number, options: DynamoDbLocalOptions): Promise<RunningEngine> {
  const child = spawn(
    'java',
    [...(options.jvmArgs ?? DEFAULT_DYNAMODB_JVM_ARGS), `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`, '-jar', join(dir, 'DynamoDBLocal.jar'), '-inMemory', '-port', String(port), '-disableTelemetry'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolveExit();
    });
  });
  child.once('error', (error) => {
    keep(Buffer.from(String(error)));
    exited ??= { code: null, signal: null };
  });
  // Safety net: never leave the JVM behind when this process exits without teardown.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(timer);
  };

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) {
      process.removeListener('exit', killOnExit);
      throw new EngineExitedError(`DynamoDB Local exited before it was ready (code ${exited.code}, signal ${exited.signal}): ${output.trim()}`);
    }
    if (await answers(endpoint)) return { endpoint, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`DynamoDB Local did not answer on ${endpoint} within the timeout: ${output.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts fauxqs (SQS emulator) in this process on 127.0.0.1 and a free port.
 * Queue URLs it returns name a host that does not resolve: always give the
 * SQS client this endpoint explicitly.
 */
export async function startFauxqs(): Promise<RunningEngine> {
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (typeof address !== 'object' || !address) {
    await app.close();
    throw new Error('fauxqs did not report its port');
  }
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: async () => {
      await app.close();
    },
  };
}
