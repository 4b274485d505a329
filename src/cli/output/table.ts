/** Human tables (cli-table3) and JSON output. */
import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { safeText } from './color.js';

export function renderTable(chalk: ChalkInstance, head: string[], rows: (string | number | null | undefined)[][], title?: string): string {
  const table = new Table({
    head: head.map((h) => chalk.bold(h)),
    style: { head: [], border: [] },
    wordWrap: false,
  });
  for (const row of rows) table.push(row.map((cell) => (cell === null || cell === undefined ? '' : safeText(String(cell)))));
  return `${title ? `${chalk.bold(title)}\n` : ''}${table.toString()}\n`;
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** "key: value" lines for inspect output of one object. */
export function renderFields(chalk: ChalkInstance, fields: [string, unknown][]): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return (
    fields
      .map(([k, v]) => {
        const text = v === null || v === undefined ? 'None' : typeof v === 'object' ? JSON.stringify(v) : String(v);
        return `${chalk.dim(k.padEnd(width))}  ${safeText(text)}`;
      })
      .join('\n') + '\n'
  );
}
