/**
 * One evaluation of the SST app, in its own process (forked by evaluate.ts):
 * SST's `run()` chdirs and keeps module state, and a failed evaluation's
 * leftover promises die with the process.
 *
 * Pulumi runs in its documented unit-test mode (`runtime.setMocks`), so SST's
 * real components run with no engine and no cloud; every resource they
 * register is recorded with its inputs. SST's CLI RPC (`$SST_SERVER/rpc`) is
 * the loopback stub in rpc-stub.ts. The result is written as JSON to
 * `resultFile` once the event loop has drained (every resource created inside
 * an `apply` is registered by then).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { callResult, computedState, type RecordedCall, type RecordedResource } from './mocks.ts';

export interface ChildInput {
  /** The bundled app (bundle.ts). */
  bundle: string;
  root: string;
  /** $cli.paths.work: SST writes each function's code.zip under artifacts/. */
  work: string;
  home: string;
  stage: string;
  resultFile: string;
  timeoutMs: number;
}

export interface ChildResult {
  resources: RecordedResource[];
  calls: RecordedCall[];
  /** Provider functions without a mock answer. */
  unmockedCalls: string[];
  outputs: Record<string, unknown> | undefined;
  errors: string[];
  timedOut: boolean;
  ms: number;
}

const started = Date.now();
const input = JSON.parse(process.env.RELAY_INFRA_CHILD ?? '{}') as ChildInput;
const resources: RecordedResource[] = [];
const calls: RecordedCall[] = [];
const unmockedCalls = new Set<string>();
const errors: string[] = [];
let outputs: Record<string, unknown> | undefined;
let finished = false;

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

process.on('unhandledRejection', (error) => errors.push(describe(error)));
process.on('uncaughtException', (error) => errors.push(describe(error)));

const SECRET_SIGNATURE_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIGNATURE = '1b47061264138c4ac30d75fd1eb44270';

/** JSON-safe copy of resource inputs: secrets unwrapped, assets become their path, functions and cycles dropped. */
function plain(value: unknown, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (seen.has(value)) return undefined;
  seen.add(value);
  // A Pulumi secret as the mock monitor sees it: { <secret signature>: …, value }.
  const record = value as Record<string, unknown>;
  if (record[SECRET_SIGNATURE_KEY] === SECRET_SIGNATURE) return plain(record.value, seen);
  const asset = value as { path?: unknown; text?: unknown; assets?: unknown };
  const tag = (value as Record<string, unknown>)['__pulumiAsset'] ?? (value as Record<string, unknown>)['__pulumiArchive'];
  if (tag !== undefined) return { asset: typeof asset.path === 'string' ? asset.path : '(inline)' };
  if (Array.isArray(value)) return value.map((item) => plain(item, seen));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plain(item, seen)]));
}

function writeResult(timedOut: boolean): void {
  if (finished) return;
  finished = true;
  const result: ChildResult = {
    resources,
    calls,
    unmockedCalls: [...unmockedCalls],
    outputs: plain(outputs) as Record<string, unknown> | undefined,
    // The same failure surfaces once per output that depended on it.
    errors: [...new Set(errors)],
    timedOut,
    ms: Date.now() - started,
  };
  writeFileSync(input.resultFile, JSON.stringify(result));
}

function finish(timedOut = false): void {
  writeResult(timedOut);
  process.exit(0);
}

// Also when the loop drains with the evaluation stuck (e.g. an exception while loading the app).
process.on('exit', () => {
  if (!finished && outputs === undefined && errors.length === 0) errors.push('the evaluation stopped without finishing (a promise never settled)');
  writeResult(false);
});

setTimeout(() => {
  errors.push(`evaluation did not finish within ${input.timeoutMs} ms`);
  finish(true);
}, input.timeoutMs).unref();

// The same @pulumi/pulumi instance the bundle imports (resolved from .sst/platform).
const requireFromPlatform = createRequire(join(input.root, '.sst', 'platform', 'package.json'));
const pulumi = requireFromPlatform('@pulumi/pulumi') as {
  runtime: {
    setMocks(mocks: unknown, project: string, stack: string, preview: boolean): Promise<void>;
    runInPulumiStack(init: () => Promise<unknown>): Promise<Record<string, unknown> | undefined>;
    waitForRPCs?: () => Promise<void>;
  };
};

const mocks = {
  newResource(args: { type: string; name: string; inputs: Record<string, unknown>; custom?: boolean; id?: string }) {
    const inputs = plain(args.inputs) as Record<string, unknown>;
    resources.push({ type: args.type, name: args.name, custom: args.custom ?? true, inputs });
    const state = { ...args.inputs, ...computedState(args.type, args.name, args.inputs) };
    return { id: args.custom === false ? undefined : `${args.name}-id`, state };
  },
  call(args: { token: string; inputs: Record<string, unknown> }) {
    calls.push({ token: args.token, inputs: plain(args.inputs) as Record<string, unknown> });
    const result = callResult(args.token, args.inputs);
    if (result === undefined) {
      unmockedCalls.add(args.token);
      return {};
    }
    return result;
  },
};

const globals = globalThis as Record<string, unknown>;
globals.$dev = false;
globals.$cli = {
  command: 'deploy',
  rpc: process.env.SST_SERVER,
  paths: { home: input.home, root: input.root, work: input.work, platform: join(input.root, '.sst', 'platform') },
  state: { version: {} },
};
globals.$app = { name: 'flowtriq-relay', stage: input.stage, removal: 'remove', providers: {}, home: 'aws', protect: false };

let lastCount = -1;
process.on('beforeExit', () => {
  // The event loop drained: let Pulumi finish its outstanding registrations,
  // and finish once a whole pass registered nothing new.
  void (async () => {
    await pulumi.runtime.waitForRPCs?.();
    if (resources.length !== lastCount) {
      lastCount = resources.length;
      return;
    }
    finish();
  })();
});

try {
  await pulumi.runtime.setMocks(mocks, 'flowtriq-relay', input.stage, false);
  const mod = (await import(pathToFileURL(input.bundle).href)) as {
    run(program: () => Promise<unknown>): Promise<Record<string, unknown>>;
    config: {
      app(input: { stage: string }): Promise<Record<string, unknown>> | Record<string, unknown>;
      run(): Promise<unknown>;
    };
  };
  // What SST's CLI does before running: evaluate app() to define $app.
  const app = await mod.config.app({ stage: input.stage });
  globals.$app = {
    name: app.name,
    stage: input.stage,
    removal: app.removal ?? 'retain',
    providers: app.providers ?? {},
    home: app.home,
    protect: app.protect ?? false,
  };
  outputs = await pulumi.runtime.runInPulumiStack(() => mod.run(mod.config.run));
} catch (error) {
  errors.push(describe(error));
}
