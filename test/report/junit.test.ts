/**
 * JUnit XML: one test case per threshold, exact counts, valid escaping.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initHistograms } from '../../src/metrics/index.js';
import type { Verdict } from '../../src/report/document.js';
import { escapeXml, renderJunit } from '../../src/report/junit.js';
import { syntheticReport } from './fixtures.js';

beforeAll(async () => {
  await initHistograms();
});

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

/**
 * A strict well-formedness check for the XML subset JUnit uses (prolog, elements, attributes in
 * double quotes, text, entities): returns the element tree as [name, attributes, children].
 */
type Node = { name: string; attrs: Record<string, string>; children: Node[]; text: string };
function parseXml(xml: string): Node {
  let i = 0;
  const fail = (what: string): never => { throw new Error(`not well-formed at ${i}: ${what}: ${JSON.stringify(xml.slice(i, i + 40))}`); };
  const checkText = (s: string, inAttr: boolean): string => {
    for (let k = 0; k < s.length; k++) {
      const ch = s[k]!;
      if (ch === '<' || (inAttr && ch === '"')) fail(`raw ${ch}`);
      if (ch === '&') {
        ENTITY.lastIndex = k;
        if (!ENTITY.test(s)) fail('bad entity');
      }
      if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/.test(ch)) fail('control character');
    }
    return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#10;/g, '\n').replace(/&amp;/g, '&');
  };
  if (!xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')) fail('prolog');
  i = xml.indexOf('\n') + 1;
  const stack: Node[] = [];
  let root: Node | undefined;
  while (i < xml.length) {
    if (xml[i] === '<') {
      const close = /^<\/([A-Za-z_][\w.-]*)>/.exec(xml.slice(i));
      if (close) {
        const open = stack.pop();
        if (open?.name !== close[1]) fail(`</${close[1]}> closes <${open?.name}>`);
        i += close[0].length;
        continue;
      }
      const m = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>/.exec(xml.slice(i));
      if (!m) fail('tag');
      const attrs: Record<string, string> = {};
      for (const a of m![2]!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
        if (a[1]! in attrs) fail('duplicate attribute');
        attrs[a[1]!] = checkText(a[2]!, true);
      }
      const node: Node = { name: m![1]!, attrs, children: [], text: '' };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(node);
      else if (root === undefined) root = node;
      else fail('second root');
      if (m![3] !== '/') stack.push(node);
      i += m![0].length;
    } else {
      const end = xml.indexOf('<', i);
      const text = xml.slice(i, end === -1 ? undefined : end);
      if (stack.length === 0 && text.trim() !== '') fail('text outside the root');
      if (stack.length > 0) stack[stack.length - 1]!.text += checkText(text, false);
      i = end === -1 ? xml.length : end;
    }
  }
  if (stack.length > 0 || root === undefined) fail('unclosed element');
  return root!;
}

describe('renderJunit', () => {
  it('is one test case per threshold, with exact counts: critical fails, warning passes with a note, not judged is skipped', () => {
    const report = syntheticReport();
    const root = parseXml(renderJunit(report));
    expect(root.name).toBe('testsuites');
    expect(root.attrs).toMatchObject({ tests: '4', failures: '1', errors: '0', skipped: '1', time: '2.500' });
    const suite = root.children[0]!;
    expect(suite.attrs).toMatchObject({ name: 'wsload.thresholds', tests: '4', failures: '1', skipped: '1', time: '2.500', timestamp: '2025-01-15T10:00:00' });
    const cases = suite.children.filter((c) => c.name === 'testcase');
    expect(cases.map((c) => [c.attrs.classname, c.attrs.name, c.children.map((x) => x.name)])).toEqual([
      ['wsload.thresholds', 'ws.rtt.p99<10', ['failure']],
      ['wsload.thresholds', 'ws.rtt.p50<1 (warning)', ['system-out']],
      ['wsload.thresholds', 'ws.rtt.p50<1000', ['system-out']],
      ['wsload.thresholds', 'ws.rtt.nosuch.p99<5', ['skipped']],
    ]);
    const failure = cases[0]!.children[0]!;
    expect(failure.attrs.message).toBe(report.thresholds[0]!.message);
    expect(failure.attrs.message).toMatch(/^ws\.rtt\.p99 = 99\.\d+ ms crosses critical >= 10 ms$/);
    expect(cases[1]!.children[0]!.text).toMatch(/^warning: ws\.rtt\.p50 = 20\.\d+ ms crosses warning >= 1 ms \(actual: 20\.\d+ ms\)$/);
    expect(cases[3]!.children[0]!.attrs.message).toBe("no values were recorded in 'ws.rtt.nosuch'");
    const props = suite.children.find((c) => c.name === 'properties')!.children.map((p) => [p.attrs.name, p.attrs.value]);
    expect(props).toContainEqual(['target', 'ws://127.0.0.1:9/ws']);
    expect(props).toContainEqual(['strict', 'false']);
  });

  it('fails warnings too with strict', () => {
    const xml = renderJunit(syntheticReport(), { strict: true });
    const root = parseXml(xml);
    expect(root.attrs).toMatchObject({ tests: '4', failures: '2', skipped: '1' });
    expect(root.children[0]!.children[2]!.children[0]!.attrs).toMatchObject({ type: 'warning' });
  });

  it('is an empty suite when nothing was judged', () => {
    const root = parseXml(renderJunit(syntheticReport({ verdicts: false })));
    expect(root.attrs).toMatchObject({ tests: '0', failures: '0', skipped: '0' });
  });

  it('escapes markup, quotes and characters XML cannot carry', () => {
    expect(escapeXml(`a<b>&"c'\u0001d`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;\uFFFDd');
    const report = syntheticReport();
    const nasty: Verdict = {
      ...report.thresholds[0]!,
      name: `p<"5">&'x'`,
      checks: [{ level: 'critical', expression: `a<"5">&'x'`, holds: false }],
      message: 'line one\nline two </failure> ]]> \u0007 bell',
    };
    const root = parseXml(renderJunit({ ...report, thresholds: [nasty] }));
    const tc = root.children[0]!.children.find((c) => c.name === 'testcase')!;
    expect(tc.attrs.name).toBe(`p<"5">&'x': a<"5">&'x'`);
    expect(tc.children[0]!.attrs.message).toBe('line one\nline two </failure> ]]> \uFFFD bell');
  });
});
