/**
 * Reads a YAML (or JSON) script into plain data plus a map from every path in it to its line:col,
 * so any later check can point at the exact key or value it is unhappy with.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { SourceLocation } from '../errors.js';
import type { Path, PathSegment } from './path.js';
import type { Problem } from './problems.js';

export { formatPath, type Path, type PathSegment } from './path.js';

interface Spot {
  value: SourceLocation;
  key?: SourceLocation;
}

/** Finds where a path is in the file; falls back to the nearest ancestor that has a position. */
export class Locator {
  readonly file: string;
  private readonly spots = new Map<string, Spot>();

  constructor(file: string) {
    this.file = file;
  }

  /** @internal */
  record(path: Path, spot: Spot, overwrite: boolean): void {
    const k = pathKey(path);
    if (!overwrite && this.spots.has(k)) return;
    this.spots.set(k, spot);
  }

  /** Where the value at `path` starts. */
  at(path: Path): SourceLocation {
    for (let n = path.length; n >= 0; n--) {
      const spot = this.spots.get(pathKey(path.slice(0, n)));
      if (spot) return spot.value;
    }
    return { file: this.file, line: 1, col: 1 };
  }

  /** Where the key of the last path segment is (for "unknown key" problems); the value's place otherwise. */
  keyAt(path: Path): SourceLocation {
    return this.spots.get(pathKey(path))?.key ?? this.at(path);
  }
}

function pathKey(path: Path): string {
  return path.join('\u0000');
}

export interface ParsedSource {
  /** The script as plain data (aliases and `<<` merge keys resolved), or undefined after a syntax error. */
  readonly data: unknown;
  readonly locator: Locator;
  /** YAML syntax errors and warnings, with positions. */
  readonly problems: readonly Problem[];
}

/** Parses YAML or JSON text; a fresh LineCounter per file keeps offsets → line:col exact. */
export function parseSource(text: string, file: string): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, merge: true, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(file);
  const where = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const problems: Problem[] = [];
  for (const err of doc.errors) {
    problems.push({ severity: 'error', message: yamlMessage(err.message), location: where(err.pos[0]) });
  }
  for (const warn of doc.warnings) {
    problems.push({ severity: 'warning', message: yamlMessage(warn.message), location: where(warn.pos[0]) });
  }
  if (doc.errors.length > 0) return { data: undefined, locator, problems };
  if (doc.contents) walk(doc, doc.contents as Node, [], where, locator, true, new Set(), 0);
  const data: unknown = doc.toJS({ maxAliasCount: 10_000 });
  return { data, locator, problems };
}

function yamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '').replace(/\.$/, '');
}

function walk(
  doc: Document,
  node: Node,
  path: PathSegment[],
  where: (offset: number) => SourceLocation,
  locator: Locator,
  overwrite: boolean,
  aliasStack: Set<Node>,
  depth: number,
): void {
  if (depth > 64) return;
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (!target || aliasStack.has(target as Node)) return;
    aliasStack.add(target as Node);
    walkChildren(doc, target as Node, path, where, locator, overwrite, aliasStack, depth);
    aliasStack.delete(target as Node);
    return;
  }
  walkChildren(doc, node, path, where, locator, overwrite, aliasStack, depth);
}

function walkChildren(
  doc: Document,
  node: Node,
  path: PathSegment[],
  where: (offset: number) => SourceLocation,
  locator: Locator,
  overwrite: boolean,
  aliasStack: Set<Node>,
  depth: number,
): void {
  if (isMap(node)) {
    const merges: Node[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as Node | null;
      const rawKey = isScalar(keyNode) ? keyNode.value : keyNode;
      if (rawKey === '<<' && pair.value) {
        merges.push(pair.value as Node);
        continue;
      }
      const key = String(rawKey);
      const keyLoc = keyNode?.range ? where(keyNode.range[0]) : undefined;
      const valueNode = pair.value as Node | null;
      // `send:` with nothing after it has no value node: point at the key.
      const valueLoc = valueNode?.range ? where(valueNode.range[0]) : keyLoc;
      const childPath = [...path, key];
      if (valueLoc) locator.record(childPath, keyLoc ? { value: valueLoc, key: keyLoc } : { value: valueLoc }, overwrite);
      if (valueNode) walk(doc, valueNode, childPath, where, locator, overwrite, aliasStack, depth + 1);
    }
    // Keys merged in with `<<: *defaults` point at the anchor's definition; explicit keys win.
    for (const m of merges) {
      const sources = isSeq(m) ? (m.items as Node[]) : [m];
      for (const s of sources) walk(doc, s, path, where, locator, false, aliasStack, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const n = item as Node | null;
      if (!n) return;
      const childPath = [...path, i];
      if (n.range) locator.record(childPath, { value: where(n.range[0]) }, overwrite);
      walk(doc, n, childPath, where, locator, overwrite, aliasStack, depth + 1);
    });
  }
  if (path.length === 0 && node.range) locator.record(path, { value: where(node.range[0]) }, overwrite);
}
