/**
 * Loads the pfSense-pkg-API v1 OpenAPI document that lives OUTSIDE this
 * repository, in the shared workspace next to it:
 * `../shared/specs/pfsense-api-v1_openapi.yml` (a copy of the package's
 * `openapi.yml`, Apache-2.0). Tests that use it skip, with a message naming
 * the path, when it is absent (e.g. a checkout on its own).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';

export const PFSENSE_V1_OPENAPI_PATH = fileURLToPath(
  new URL('../../../../shared/specs/pfsense-api-v1_openapi.yml', import.meta.url),
);

interface OpenApiOperation {
  parameters?: Array<{ name?: string; in?: string }>;
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}

export type OpenApiPaths = Record<string, Record<string, OpenApiOperation>>;

export const pfSenseV1OpenApiAvailable = existsSync(PFSENSE_V1_OPENAPI_PATH);

/**
 * The spec's `paths`, or undefined when the file is absent.
 *
 * The file is not strictly valid YAML: about twenty multi-line single-quoted
 * `description` values (e.g. line 875) are indented in a way the `yaml`
 * package reports as errors. They are all inside descriptions, so the
 * document is read leniently (`strict: false`, errors ignored); the paths,
 * methods, parameters and request-body properties come through intact.
 */
export function loadPfSenseV1OpenApiPaths(): OpenApiPaths | undefined {
  if (!pfSenseV1OpenApiAvailable) return undefined;
  const document = parseDocument(readFileSync(PFSENSE_V1_OPENAPI_PATH, 'utf8'), { strict: false });
  const spec = document.toJS() as { paths?: OpenApiPaths } | null;
  return spec?.paths ?? {};
}

/** Property names of an operation's JSON request body, plus its parameter names. */
export function operationFields(paths: OpenApiPaths, method: string, path: string): Set<string> | undefined {
  const operation = paths[path]?.[method.toLowerCase()];
  if (operation === undefined) return undefined;
  const fields = new Set<string>();
  for (const parameter of operation.parameters ?? []) if (parameter.name) fields.add(parameter.name);
  const properties = operation.requestBody?.content?.['application/json']?.schema?.properties ?? {};
  for (const name of Object.keys(properties)) fields.add(name);
  return fields;
}
