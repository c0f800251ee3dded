/**
 * The package's query filters for plural GETs (docs/QUERIES_FILTERS_AND_SORTING.md):
 * `field=value` (= `field__exact`), `field__startswith`, `__endswith`,
 * `__contains`, `__except`, and `limit` / `offset`. Matching objects keep
 * their ids (array positions).
 */

const PAGINATION = new Set(['limit', 'offset', 'sort_by', 'sort_order']);

type Filter = (value: unknown) => boolean;

function filterFor(operator: string, wanted: string): Filter | undefined {
  const text = (value: unknown) => (Array.isArray(value) ? value.map(String) : [String(value)]);
  switch (operator) {
    case 'exact':
      return (value) => !Array.isArray(value) && String(value) === wanted;
    case 'startswith':
      return (value) => text(value).some((item) => item.startsWith(wanted));
    case 'endswith':
      return (value) => text(value).some((item) => item.endsWith(wanted));
    case 'contains':
      return (value) => text(value).some((item) => item.includes(wanted));
    case 'except':
      return (value) => String(value) !== wanted;
    default:
      return undefined;
  }
}

/**
 * Applies the query to `[id, object]` pairs.
 * @returns the matches, or an error message for an unknown operator.
 */
export function applyQuery(
  objects: Array<[number, Record<string, unknown>]>,
  query: URLSearchParams,
): Array<[number, Record<string, unknown>]> | { error: string } {
  let result = objects;
  for (const [key, wanted] of query) {
    if (PAGINATION.has(key)) continue;
    const [field, operator = 'exact'] = key.split('__', 2) as [string, string?];
    const filter = filterFor(operator, wanted);
    if (filter === undefined) return { error: `Unknown query filter \`${operator}\`.` };
    result = result.filter(([, object]) => field in object && filter(object[field]));
  }
  const offset = Number(query.get('offset') ?? 0) || 0;
  const limit = Number(query.get('limit') ?? 0) || 0;
  result = result.slice(offset);
  return limit > 0 ? result.slice(0, limit) : result;
}
