/**
 * `relay start` records where it listens in `<storage.dir>/running.json`
 * (its pid, webhook URL, where its secret comes from; never a secret), so
 * `relay send-test` from the same directory reaches the port the relay
 * really bound (--port, --port 0) instead of the configured one. Removed on
 * a clean stop; a record whose process is gone is ignored.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';

export const RUNNING_FILE = 'running.json';

const recordSchema = z.object({
  pid: z.number().int().positive(),
  webhookUrl: z.string().url(),
  secretSource: z.string(),
  insecure: z.boolean(),
  startedAt: z.string(),
});
export type RunningRecord = z.infer<typeof recordSchema>;

export function runningFile(storageDir: string): string {
  return join(resolve(storageDir), RUNNING_FILE);
}

export function writeRunning(storageDir: string, record: RunningRecord): void {
  writeFileSync(runningFile(storageDir), `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

/** Removes the record if it is this process's. */
export function removeRunning(storageDir: string, pid: number = process.pid): void {
  const record = readRunning(storageDir, () => true);
  if (record?.pid === pid) rmSync(runningFile(storageDir), { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The record of a relay still running from this storage directory, if any. */
export function readRunning(storageDir: string, alive: (pid: number) => boolean = processAlive): RunningRecord | undefined {
  let text: string;
  try {
    text = readFileSync(runningFile(storageDir), 'utf8');
  } catch {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success || !alive(parsed.data.pid)) return undefined;
  return parsed.data;
}
