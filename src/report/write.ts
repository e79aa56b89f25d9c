/**
 * Writing a report document in every format asked for, so a command needs only a few lines:
 * check the targets before the run (`checkReportTargets`), then `writeReports` after it.
 */
import { appendFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { usageError, WsloadError } from '../errors.js';
import type { WsloadReport } from './document.js';

export interface ReportTargets {
  /** JSON report file (`-o/--output`, `--json`); `-` for stdout. */
  json?: string;
  /** HTML report file (`--html`); `-` for stdout. */
  html?: string;
  /** JUnit XML file (`--junit`); `-` for stdout. */
  junit?: string;
  /** Markdown summary file (`--markdown`); `-` for stdout. */
  markdown?: string;
  /** `$GITHUB_STEP_SUMMARY`: the Markdown summary is appended to this file (steps share it). */
  githubStepSummary?: string;
}

/** The flag each target is written for, in messages. */
const FLAG: Record<keyof ReportTargets, string> = {
  json: '--json',
  html: '--html',
  junit: '--junit',
  markdown: '--markdown',
  githubStepSummary: 'GITHUB_STEP_SUMMARY',
};

const ORDER: Array<keyof ReportTargets> = ['json', 'html', 'junit', 'markdown', 'githubStepSummary'];

export interface WriteOptions {
  /** Where `-` targets go. */
  stdout?: NodeJS.WritableStream;
  /** Warnings fail the JUnit test cases (`--strict`). */
  strict?: boolean;
}

/** The targets written to stdout (`-`); `$GITHUB_STEP_SUMMARY` is a file whatever its name. */
export function stdoutTargets(targets: ReportTargets): Array<keyof ReportTargets> {
  return ORDER.filter((k) => targets[k] === '-' && k !== 'githubStepSummary');
}

/**
 * Refuse, before a run, targets that cannot be written: a directory that does not exist, or two
 * outputs to stdout. One usage error lists every problem.
 */
export async function checkReportTargets(targets: ReportTargets): Promise<void> {
  const problems: string[] = [];
  const toStdout = stdoutTargets(targets);
  if (toStdout.length > 1) problems.push(`only one report can go to stdout, got ${toStdout.map((k) => `${FLAG[k]} -`).join(' and ')}`);
  for (const key of ORDER) {
    const file = targets[key];
    if (file === undefined || file === '' || file === '-') continue;
    const dir = dirname(resolve(file));
    const isDir = await stat(dir).then((s) => s.isDirectory(), () => false);
    if (!isDir) problems.push(`${FLAG[key]}: directory "${dir}" does not exist`);
  }
  if (problems.length > 0) throw usageError(problems.join('; '));
}

/** Render every asked-for format; each file is written whole. Returns the files written. */
export async function writeReports(report: WsloadReport, targets: ReportTargets, opts: WriteOptions = {}): Promise<string[]> {
  const written: string[] = [];
  for (const key of ORDER) {
    const file = targets[key];
    if (file === undefined || file === '') continue;
    // Each renderer is loaded only when its format is asked for (the HTML one carries the charts' code).
    const text = key === 'json' ? `${JSON.stringify(report, null, 2)}\n`
      : key === 'html' ? (await import('./html.js')).renderHtml(report)
        : key === 'junit' ? (await import('./junit.js')).renderJunit(report, opts.strict === undefined ? {} : { strict: opts.strict })
          : (await import('./markdown.js')).renderMarkdown(report);
    if (file === '-' && key !== 'githubStepSummary') {
      (opts.stdout ?? process.stdout).write(text);
      continue;
    }
    try {
      if (key === 'githubStepSummary') await appendFile(file, `${text}\n`);
      else await writeFile(file, text);
    } catch (err) {
      throw new WsloadError('WSLOAD_RUN_FAILED', `cannot write the ${FLAG[key]} report to ${file}: ${(err as Error).message}`, { cause: err });
    }
    written.push(file);
  }
  return written;
}
