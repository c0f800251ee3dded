/**
 * A loopback stand-in for the SST CLI's RPC server (`$SST_SERVER/rpc`), which
 * SST's components call during evaluation. It answers:
 *
 * - `Provider.Aws.Bootstrap`: the asset bucket and ECR details of a region.
 * - `Runtime.Build`: SST's per-function build. The handler is bundled with the
 *   project's esbuild (ESM, node22) to `<out>/<file>.mjs`, as SST does; a
 *   handler file that does not exist yet is replaced by a stub that throws,
 *   and reported in `stubbedHandlers`. Each handler is built once per stub.
 *
 * Every scenario gets its own path prefix (`SST_SERVER=http://127.0.0.1:<port>/<id>`)
 * so its builds (with the links SST would encrypt into the package) are
 * recorded separately. Unknown methods answer SST's "can't find" error and
 * are recorded.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, posix } from 'node:path';

export interface BuildRecord {
  functionID: string;
  handler: string;
  runtime: string;
  /** Names of the linked resources (SST encrypts their properties into the package). */
  links: string[];
  /** Types of the linked resources, by name. */
  linkTypes: Record<string, string>;
  copyFiles: { from: string; to: string }[];
  properties: Record<string, unknown>;
}

export interface ScenarioRpc {
  builds: BuildRecord[];
  methods: string[];
  unknownMethods: string[];
}

export interface RpcStub {
  /** Value for SST_SERVER for one scenario. */
  serverFor(scenario: string): string;
  recorded(scenario: string): ScenarioRpc;
  /** Handler files (e.g. `functions/webhook`) that were missing and stubbed. */
  stubbedHandlers: Set<string>;
  close(): Promise<void>;
}

const BOOTSTRAP = {
  asset: 'sst-asset-mock',
  assetEcrRegistryId: '123456789012',
  assetEcrUrl: '123456789012.dkr.ecr.us-east-1.amazonaws.com/sst-asset',
  state: 'sst-state-mock',
  appsyncHttp: '',
  appsyncRealtime: '',
};

const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'];

interface BuildInput {
  functionID: string;
  handler: string;
  runtime?: string;
  links?: Record<string, Record<string, unknown>>;
  copyFiles?: { from: string; to: string }[];
  properties?: Record<string, unknown>;
}

interface BuildResult {
  handler: string;
  out: string;
  errors: string[];
  sourcemaps: string[];
}

/**
 * @param root project root (handlers are looked up relative to it).
 * @param buildDir where built handlers go.
 */
export async function startRpcStub(root: string, buildDir: string): Promise<RpcStub> {
  const scenarios = new Map<string, ScenarioRpc>();
  const builds = new Map<string, Promise<{ out: string; errors: string[] }>>();
  const stubbedHandlers = new Set<string>();

  const recorded = (scenario: string): ScenarioRpc => {
    let entry = scenarios.get(scenario);
    if (!entry) {
      entry = { builds: [], methods: [], unknownMethods: [] };
      scenarios.set(scenario, entry);
    }
    return entry;
  };

  function buildHandler(file: string): Promise<{ out: string; errors: string[] }> {
    let pending = builds.get(file);
    if (!pending) {
      pending = (async () => {
        const out = join(buildDir, file.replaceAll('/', '_'));
        const outfile = join(out, `${file}.mjs`);
        mkdirSync(join(out, posix.dirname(file)), { recursive: true });
        const source = HANDLER_EXTENSIONS.map((ext) => join(root, `${file}${ext}`)).find((path) => existsSync(path));
        if (source === undefined) {
          stubbedHandlers.add(file);
          writeFileSync(outfile, `export const handler = async () => { throw new Error(${JSON.stringify(`stub: ${file} was missing when the infra tests ran`)}); };\n`);
          return { out, errors: [] };
        }
        try {
          await build({
            entryPoints: [source],
            outfile,
            bundle: true,
            platform: 'node',
            format: 'esm',
            target: 'node22',
            // CommonJS dependencies call require(); give ESM one.
            banner: { js: "import { createRequire as __relayRequire } from 'node:module'; const require = __relayRequire(import.meta.url);" },
            logLevel: 'silent',
          });
          return { out, errors: [] };
        } catch (error) {
          const failures = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors;
          return {
            out,
            errors: failures?.map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text)) ?? [String(error)],
          };
        }
      })();
      builds.set(file, pending);
    }
    return pending;
  }

  async function runtimeBuild(scenario: string, input: BuildInput): Promise<BuildResult> {
    const links = input.links ?? {};
    recorded(scenario).builds.push({
      functionID: input.functionID,
      handler: input.handler,
      runtime: input.runtime ?? '',
      links: Object.keys(links).sort(),
      linkTypes: Object.fromEntries(Object.entries(links).map(([name, props]) => [name, String(props.type ?? '')])),
      copyFiles: (input.copyFiles ?? []).map(({ from, to }) => ({ from, to })),
      properties: input.properties ?? {},
    });
    const file = input.handler.slice(0, input.handler.lastIndexOf('.'));
    const { out, errors } = await buildHandler(file);
    return { handler: input.handler, out, errors, sourcemaps: [] };
  }

  async function answer(scenario: string, method: string, args: unknown): Promise<unknown> {
    recorded(scenario).methods.push(method);
    switch (method) {
      case 'Provider.Aws.Bootstrap':
        return BOOTSTRAP;
      case 'Runtime.Build':
        return runtimeBuild(scenario, args as BuildInput);
      default:
        recorded(scenario).unknownMethods.push(method);
        throw new Error(`rpc: can't find method ${method}`);
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const match = /^\/([\w-]+)\/rpc$/.exec(req.url ?? '');
      let body: string;
      try {
        if (req.method !== 'POST' || !match) throw new Error(`unexpected ${req.method} ${req.url}`);
        const request = JSON.parse(await readBody(req)) as { method: string; params?: unknown[] };
        const result = await answer(match[1]!, request.method, request.params?.[0]);
        body = JSON.stringify({ result, error: null });
      } catch (error) {
        body = JSON.stringify({ result: null, error: error instanceof Error ? error.message : String(error) });
      }
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
      res.end(body);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    serverFor: (scenario) => `http://127.0.0.1:${port}/${scenario}`,
    recorded,
    stubbedHandlers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
