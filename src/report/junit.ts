/**
 * JUnit XML: each threshold verdict one `<testcase>`, so any CI shows pass/fail per threshold.
 * critical → <failure>, warning → passes with a <system-out> note (a <failure> with `strict`),
 * not judged → <skipped>. Pure.
 */
import type { WsloadReport } from './document.js';
import { reportTarget, verdictActual, verdictTitle } from './figures.js';

export interface JunitOptions {
  /** Warnings fail (`--strict`); defaults to the report's own `verdict.strict`. */
  strict?: boolean;
}

/** Characters XML 1.0 does not allow at all (C0 controls other than tab, LF, CR; lone surrogates; U+FFFE/F). */
const INVALID_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escape text for an XML attribute or element; characters XML cannot carry become U+FFFD. */
export function escapeXml(text: string): string {
  return text.replace(INVALID_XML, '\uFFFD').replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

/** Attribute values also keep their line breaks and tabs (a parser would normalise raw ones to spaces). */
const attr = (text: string): string => escapeXml(text).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');

export function renderJunit(report: WsloadReport, opts: JunitOptions = {}): string {
  const strict = opts.strict ?? report.verdict?.strict ?? false;
  const time = report.durationSec.toFixed(3);
  let failures = 0;
  let skipped = 0;
  const cases = report.thresholds.map((v) => {
    // Named by the threshold's expressions on its metric, with their levels (stable from run to run).
    const open = `    <testcase classname="wsload.thresholds" name="${attr(verdictTitle(v))}" time="0">`;
    const detail = `${v.message} (actual: ${verdictActual(v)})`;
    switch (v.status) {
      case 'critical':
        failures++;
        return `${open}\n      <failure message="${attr(v.message)}" type="critical">${escapeXml(detail)}</failure>\n    </testcase>`;
      case 'warning':
        if (strict) {
          failures++;
          return `${open}\n      <failure message="${attr(v.message)}" type="warning">${escapeXml(`${detail}; warnings fail with --strict`)}</failure>\n    </testcase>`;
        }
        return `${open}\n      <system-out>${escapeXml(`warning: ${detail}`)}</system-out>\n    </testcase>`;
      case 'not_judged':
        skipped++;
        return `${open}\n      <skipped message="${attr(v.reason ?? v.message)}"/>\n    </testcase>`;
      default:
        return `${open}\n      <system-out>${escapeXml(`met: ${detail}`)}</system-out>\n    </testcase>`;
    }
  });
  const tests = report.thresholds.length;
  const target = reportTarget(report);
  const props = [
    ['command', `wsload ${report.command}`],
    ['wsload.version', report.version],
    ...(target !== undefined ? [['target', target]] : []),
    ...(typeof report.script === 'string' ? [['script', report.script]] : []),
    ['aborted', String(report.aborted)],
    ['partial', String(report.partial)],
    ['strict', String(strict)],
  ].map(([k, v]) => `      <property name="${attr(k!)}" value="${attr(v!)}"/>`);
  const counts = `tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${time}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="wsload" ${counts}>`,
    `  <testsuite name="wsload.thresholds" ${counts} timestamp="${attr(report.startedAt.replace(/\.\d+Z$/, ''))}">`,
    '    <properties>',
    ...props,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
