import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayError } from '../../lib/errors.ts';
import { openDatabase, runGuarded } from '../../lib/sqlite/open.ts';

class UnavailableForTest extends RelayError {
  constructor(message: string, options: { cause: unknown }) {
    super('unavailable_for_test', message, options);
  }
}
const unavailable = (message: string, options: { cause: unknown }) => new UnavailableForTest(message, options);

describe('runGuarded', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('turns a real database failure (another connection holds the write lock) into the component\'s error', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'relay-guarded-'));
    dirs.push(dir);
    const holder = openDatabase(join(dir, 'x.db'));
    const other = openDatabase(join(dir, 'x.db'), { busyTimeoutMs: 0 });
    holder.exec('CREATE TABLE t (v)');
    holder.exec('BEGIN IMMEDIATE');

    // Act
    let thrown: unknown;
    try {
      runGuarded('test store write', () => other.exec('BEGIN IMMEDIATE'), unavailable);
    } catch (error) {
      thrown = error;
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
      other.close();
    }

    // Assess
    expect(thrown).toBeInstanceOf(UnavailableForTest);
    expect((thrown as Error).message).toMatch(/^test store write failed: database is locked/);
    expect((thrown as Error).cause).toMatchObject({ code: 'ERR_SQLITE_ERROR' });
  });

  it('passes a bug or a RelayError through unchanged and returns the result otherwise', () => {
    const bug = new TypeError('undefined is not a function');
    const relay = new UnavailableForTest('already ours', { cause: undefined });
    expect(() => runGuarded('x', () => { throw bug; }, unavailable)).toThrow(bug);
    expect(() => runGuarded('x', () => { throw relay; }, unavailable)).toThrow(relay);
    expect(runGuarded('x', () => 42, unavailable)).toBe(42);
  });
});
