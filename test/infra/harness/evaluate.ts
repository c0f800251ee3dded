/**
 * Evaluates the SST app (sst.config.ts + stacks/) offline, once per scenario,
 * with SST's real components under Pulumi's unit-test mocks: bundles the app
 * once, starts the loopback RPC stub once, then forks one child per scenario
 * (child.ts), a few at a time.
 *
 * A scenario is a relay config file (written to a temporary directory and
 * passed as RELAY_CONFIG, as an operator would) plus the SST secret values
 * the CLI would provide (`SST_SECRET_<Name>`).
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleApp, type AppBundle } from './bundle.ts';
import type { ChildInput, ChildResult } from './child.ts';
import { startRpcStub, type RpcStub, type ScenarioRpc } from './rpc-stub.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.ts');

export interface Scenario {
  /** Unique, [\w-]+. */
  id: string;
  /** The config file: name (its extension decides YAML or JSON) and text. Absent: no file at all. */
  config?: { name: string; text: string };
  /** Files placed beside the config (e.g. a CA bundle), by relative path. */
  files?: Record<string, string>;
  /** SST secret values, as `sst secret set` would provide them. */
  secrets?: Record<string, string>;
  stage?: string;
  /** Extra environment for the evaluation (e.g. a RELAY_CONFIG of your own). */
  env?: Record<string, string>;
}

export interface Evaluation extends ChildResult, ScenarioRpc {
  id: string;
  /** Where the config file was written (RELAY_CONFIG). */
  configFile: string | undefined;
  /** $cli.paths.work of this evaluation (artifacts/<Function>/code.zip). */
  work: string;
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export interface Harness {
  evaluate(scenario: Scenario): Promise<Evaluation>;
  /** Evaluates all scenarios, at most `parallel` at a time. */
  evaluateAll(scenarios: Scenario[], parallel?: number): Promise<Map<string, Evaluation>>;
  stubbedHandlers: Set<string>;
  close(): Promise<void>;
}

const CHILD_TIMEOUT_MS = 20_000;

export async function createHarness(): Promise<Harness> {
  const temp = mkdtempSync(join(tmpdir(), 'relay-infra-'));
  const [bundled, started] = await Promise.allSettled([bundleApp(ROOT), startRpcStub(ROOT, join(temp, 'handlers'))]);
  if (bundled.status === 'rejected' || started.status === 'rejected') {
    if (started.status === 'fulfilled') await started.value.close();
    rmSync(temp, { recursive: true, force: true });
    throw bundled.status === 'rejected' ? bundled.reason : (started as PromiseRejectedResult).reason;
  }
  const app: AppBundle = bundled.value;
  const stub: RpcStub = started.value;

  async function evaluate(scenario: Scenario): Promise<Evaluation> {
    const base = join(temp, scenario.id);
    const configDir = join(base, 'config');
    const work = join(base, 'work');
    const home = join(base, 'home');
    for (const dir of [configDir, work, home]) mkdirSync(dir, { recursive: true });
    let configFile: string | undefined;
    if (scenario.config) {
      configFile = join(configDir, scenario.config.name);
      writeFileSync(configFile, scenario.config.text);
    }
    for (const [path, text] of Object.entries(scenario.files ?? {})) {
      mkdirSync(dirname(join(configDir, path)), { recursive: true });
      writeFileSync(join(configDir, path), text);
    }
    const resultFile = join(base, 'result.json');
    const input: ChildInput = {
      bundle: app.file,
      root: ROOT,
      work,
      home,
      stage: scenario.stage ?? 'test',
      resultFile,
      timeoutMs: CHILD_TIMEOUT_MS,
    };
    // A clean environment: nothing of the developer's AWS setup leaks in.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      // V8's code cache for the app bundle, Pulumi and the AWS provider: about a third off each evaluation after the first run.
      NODE_COMPILE_CACHE: join(ROOT, '.sst', 'platform', '.relay-infra', 'compile-cache'),
      SST_SERVER: stub.serverFor(scenario.id),
      RELAY_INFRA_CHILD: JSON.stringify(input),
      ...(configFile ? { RELAY_CONFIG: configFile } : {}),
      ...Object.fromEntries(Object.entries(scenario.secrets ?? {}).map(([name, value]) => [`SST_SECRET_${name}`, value])),
      ...scenario.env,
    };
    const child = fork(CHILD, [], { env, execArgv: [], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exitCode = await new Promise<number | null>((resolveExit) => {
      const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS + 5_000);
      child.on('exit', (code) => {
        clearTimeout(killer);
        resolveExit(code);
      });
    });
    const result: ChildResult = existsSync(resultFile)
      ? (JSON.parse(readFileSync(resultFile, 'utf8')) as ChildResult)
      : {
          resources: [],
          calls: [],
          unmockedCalls: [],
          outputs: undefined,
          errors: [`the evaluation process exited (${exitCode}) without a result:\n${stderr}`],
          timedOut: false,
          ms: 0,
        };
    return { id: scenario.id, ...result, ...stub.recorded(scenario.id), configFile, work, stdout, stderr, exitCode };
  }

  return {
    evaluate,
    async evaluateAll(scenarios, parallel = Math.max(2, Math.min(4, availableParallelism()))) {
      const results = new Map<string, Evaluation>();
      const queue = [...scenarios];
      await Promise.all(
        Array.from({ length: Math.min(parallel, queue.length) }, async () => {
          for (let next = queue.shift(); next; next = queue.shift()) results.set(next.id, await evaluate(next));
        }),
      );
      return results;
    },
    stubbedHandlers: stub.stubbedHandlers,
    async close() {
      await stub.close();
      rmSync(temp, { recursive: true, force: true });
    },
  };
}
