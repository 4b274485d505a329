/** Self-cleaning temporary state directories and stores for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteStore } from '../../src/store/store.js';

export interface TempHome {
  dir: string;
  [Symbol.asyncDispose](): Promise<void>;
}

export function tempDir(prefix = 'flowdeck-test-'): TempHome {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return {
    dir,
    async [Symbol.asyncDispose]() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TempStore {
  store: SqliteStore;
  dir: string;
  close(): Promise<void>;
}

/** A migrated SQLite file in a fresh temporary folder. */
export function openTempStore(): TempStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flowdeck-store-'));
  const store = SqliteStore.open(path.join(dir, 'home'));
  return {
    store,
    dir,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
