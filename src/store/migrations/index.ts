/**
 * Numbered schema migrations, applied in order under PRAGMA user_version.
 * Never edit a released migration: add a new number (steps of 10).
 */
import { MIGRATION_010 } from './010-initial.js';
import { MIGRATION_020 } from './020-dispatch-order-indexes.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 10, name: 'initial', sql: MIGRATION_010 },
  { version: 20, name: 'dispatch-order-indexes', sql: MIGRATION_020 },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
