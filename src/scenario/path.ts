/**
 * Paths into a script (`phases[1].duration`) and how messages print them. Apart from ./source.ts so
 * that what only formats paths (the checker, threshold declarations, which `stress` loads too) does
 * not load the YAML parser.
 */

export type PathSegment = string | number;
export type Path = readonly PathSegment[];

/** `phases[1].duration`, `scenarios[0].flow[2].send`: paths as users read them in messages. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
