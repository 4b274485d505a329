/**
 * Human tables and JSON output. The box table is drawn here in one pass over the cells (linear in the
 * number of rows: a general table library's layout was quadratic, 15 s for 10,000 deployments).
 */
import type { ChalkInstance } from 'chalk';
import { stripVTControlCharacters } from 'node:util';
import { safeText } from './color.js';

/** A cell whose text is made safe first, then styled (colour) by a trusted function. */
export interface StyledCell {
  text: string;
  style: (safe: string) => string;
}

type Cell = string | number | null | undefined | StyledCell;

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  if (typeof cell === 'object') return cell.style(safeText(cell.text));
  return safeText(String(cell));
}

function width(text: string): number {
  return stripVTControlCharacters(text).length;
}

function pad(text: string, to: number): string {
  return text + ' '.repeat(Math.max(0, to - width(text)));
}

/** Control characters in cells are shown escaped; colour comes only from StyledCell styles. */
export function renderTable(chalk: ChalkInstance, head: string[], rows: Cell[][], title?: string): string {
  const body = rows.map((row) => head.map((_, i) => cellText(row[i])));
  const widths = head.map((h, i) => Math.max(width(h), ...body.map((r) => width(r[i]!))));
  const line = (l: string, m: string, r: string) => `${l}${widths.map((w) => '─'.repeat(w + 2)).join(m)}${r}`;
  const row = (cells: string[]) => `│${cells.map((c, i) => ` ${pad(c, widths[i]!)} `).join('│')}│`;
  const out: string[] = [];
  if (title) out.push(chalk.bold(title));
  out.push(line('┌', '┬', '┐'), row(head.map((h) => chalk.bold(h))));
  for (const r of body) out.push(line('├', '┼', '┤'), row(r));
  out.push(line('└', '┴', '┘'));
  return `${out.join('\n')}\n`;
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** "key: value" lines for inspect output of one object. */
export function renderFields(chalk: ChalkInstance, fields: [string, unknown][]): string {
  const w = Math.max(...fields.map(([k]) => k.length));
  return (
    fields
      .map(([k, v]) => {
        const text = v === null || v === undefined ? 'None' : typeof v === 'object' ? JSON.stringify(v) : String(v);
        return `${chalk.dim(k.padEnd(w))}  ${safeText(text)}`;
      })
      .join('\n') + '\n'
  );
}
