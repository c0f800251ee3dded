/** Vitest global setup: starts the engines the contract suites need (filled in by the storage work). */
export default async function setup(): Promise<void | (() => Promise<void>)> {
  return undefined;
}
