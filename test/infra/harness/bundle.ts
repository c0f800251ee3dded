/**
 * Bundles sst.config.ts the way SST's CLI does before it runs the app: esbuild,
 * ESM for node; `@pulumi/*`, `@pulumiverse/*`, `@sst-provider/*` and
 * `@aws-sdk/*` external, resolved at run time from .sst/platform/node_modules
 * (so the output lives inside .sst/platform) or, walking up, the project's;
 * the app's other dependencies (zod, yaml) bundled; SST's shim (`$interpolate`, `$config`,
 * `$transform`, …) injected; `import * as aws` / `import * as sst` prepended to
 * the app's own files (sst.config.ts and stacks/, the files that use them). `$app`,
 * `$cli` and `$dev` are set as globals by the child before it runs the app.
 *
 * The entry exports SST's `run` (src/auto/run.ts) and the app config, so the
 * child can call `config.app()` and then `run(config.run)` as the CLI does.
 */
import { build, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

export interface AppBundle {
  /**
   * The bundled module: `.sst/platform/.relay-infra/app-<content hash>.mjs`.
   * Named by content and kept, so Node's compile cache recognises it next run.
   */
  file: string;
}

/** Bundles of other sources older than this are removed. */
const STALE_MS = 24 * 3600 * 1000;

export function platformDir(root: string): string {
  return join(root, '.sst', 'platform');
}

export async function bundleApp(root: string): Promise<AppBundle> {
  const platform = platformDir(root);
  for (const required of ['src/auto/run.ts', 'src/shim/run.js', 'src/components/index.ts', 'node_modules/@pulumi/pulumi']) {
    if (!existsSync(join(platform, required))) {
      throw new Error(`.sst/platform is missing ${required}: run \`node scripts/sst-platform.mjs\` first (npm test does)`);
    }
  }
  const dir = join(platform, '.relay-infra');
  mkdirSync(dir, { recursive: true });
  const entry = [
    `import { run } from ${JSON.stringify(join(platform, 'src', 'auto', 'run.ts'))};`,
    `import config from ${JSON.stringify(join(root, 'sst.config.ts'))};`,
    'export { run, config };',
    '',
  ].join('\n');
  const built = await build({
    // From stdin, so the output (and its name) depends only on the sources.
    stdin: { contents: entry, resolveDir: dir, sourcefile: 'relay-infra-entry.ts', loader: 'ts' },
    outfile: join(dir, 'app.mjs'),
    write: false,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    external: ['@pulumi/*', '@pulumiverse/*', '@sst-provider/*', '@aws-sdk/*'],
    inject: [join(platform, 'src', 'shim', 'run.js')],
    plugins: [platformPackagesExternal(platform), appGlobals(root, platform)],
    // SST's banner: bundled CommonJS code expects require, __filename and __dirname.
    banner: {
      js: [
        "import { createRequire as topLevelCreateRequire } from 'module';",
        'const require = topLevelCreateRequire(import.meta.url);',
        "import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from 'url';",
        'const __filename = topLevelFileUrlToPath(import.meta.url);',
        "const __dirname = topLevelFileUrlToPath(new topLevelURL('.', import.meta.url));",
      ].join('\n'),
    },
    logLevel: 'silent',
  });
  const code = built.outputFiles[0]!.contents;
  const file = join(dir, `app-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, code);
    renameSync(partial, file);
  }
  pruneStale(dir, file);
  return { file };
}

function pruneStale(dir: string, keep: string): void {
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === keep || !name.startsWith('app-')) continue;
    try {
      if (now - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true });
    } catch {
      // Removed concurrently.
    }
  }
}

/** Prepends SST's `aws` and `sst` imports to sst.config.ts and stacks/*, as SST's CLI does for the app's files. */
function appGlobals(root: string, platform: string): Plugin {
  const prelude = [
    'import * as aws from "@pulumi/aws";',
    `import * as sst from ${JSON.stringify(join(platform, 'src', 'components', 'index.ts'))};`,
    '',
  ].join('\n');
  const stacks = join(root, 'stacks') + sep;
  const config = join(root, 'sst.config.ts');
  return {
    name: 'relay-sst-app-globals',
    setup(builder) {
      builder.onLoad({ filter: /\.ts$/ }, (args) => {
        if (args.path !== config && !args.path.startsWith(stacks)) return undefined;
        return { contents: prelude + readFileSync(args.path, 'utf8'), loader: 'ts', resolveDir: dirname(args.path) };
      });
    },
  };
}

/**
 * Packages the platform's own code imports stay external (Node loads them from
 * .sst/platform/node_modules). Bundled, some break: esbuild's sync API starts
 * a worker thread on the importing module's own file, and some packages declare
 * their own `__filename`.
 */
function platformPackagesExternal(platform: string): Plugin {
  const inside = platform + sep;
  return {
    name: 'relay-platform-packages-external',
    setup(builder) {
      builder.onResolve({ filter: /^[^./]/ }, (args) =>
        args.importer.startsWith(inside) && !args.importer.includes(`${sep}.relay-infra${sep}`) ? { path: args.path, external: true } : undefined,
      );
    },
  };
}
