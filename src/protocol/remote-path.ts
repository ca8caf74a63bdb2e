import { Buffer } from 'node:buffer';
import { FerryError } from '../errors/index.js';
import { MAX_COMPONENT_BYTES, MAX_PATH_BYTES, RESERVED_ROOT_COMPONENT } from './constants.js';

/**
 * Where `name` holds a character no remote path may hold (PROTOCOL.md §7.1), or -1: the C0 controls
 * 0x00-0x1F, DEL 0x7F, `\`, and the C1 controls U+0080-U+009F (UTF-8 `C2 80`-`C2 9F`), which some terminals
 * obey like ESC sequences. In UTF-8 the single bytes only ever encode these very characters, so testing the
 * UTF-16 code units tests the bytes. One rule for both sides: the server also leaves such names out of
 * listings.
 */
export function forbiddenCharacterAt(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit <= 0x1f || unit === 0x7f || unit === 0x5c || (unit >= 0x80 && unit <= 0x9f)) return i;
  }
  return -1;
}

// A lone surrogate has no UTF-8 form, so such a string cannot be a path of "UTF-8 bytes" at all.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Splits a remote path into its components, or throws PATH_INVALID (PROTOCOL.md §7.1) for a path that is
 * empty, absolute, longer than 4096 bytes, has an empty, `.` or `..` component, a component longer than 255
 * bytes, a C0 or C1 control character, DEL or `\`, or starts with the reserved `.ferry`. Details name the rule, and
 * never echo the path, so they are safe to send back.
 */
export function parseRemotePath(path: string): string[] {
  if (path.length === 0) throw invalid('path is empty');
  if (LONE_SURROGATE.test(path)) throw invalid('path is not valid utf-8');
  const pathBytes = Buffer.byteLength(path, 'utf8');
  if (pathBytes > MAX_PATH_BYTES) throw invalid(`path is ${pathBytes} bytes, limit ${MAX_PATH_BYTES}`);
  if (path.startsWith('/')) throw invalid('path is absolute');
  const bad = forbiddenCharacterAt(path);
  if (bad >= 0) {
    const unit = path.charCodeAt(bad);
    const code = unit.toString(16).padStart(2, '0');
    throw invalid(
      unit <= 0x7f
        ? `path contains byte 0x${code} at character ${bad}`
        : `path contains control character u+00${code} at character ${bad}`,
    );
  }
  const components = path.split('/');
  for (const [i, component] of components.entries()) {
    if (component === '') throw invalid(`component ${i} is empty`);
    if (component === '.' || component === '..') throw invalid(`component ${i} is "${component}"`);
    const bytes = Buffer.byteLength(component, 'utf8');
    if (bytes > MAX_COMPONENT_BYTES)
      throw invalid(`component ${i} is ${bytes} bytes, limit ${MAX_COMPONENT_BYTES}`);
  }
  // PROTOCOL.md §7.1: `.ferry` holds the server's own state. Compared without case, since on a
  // case-insensitive file system (macOS, Windows) `.FERRY` is the very same directory.
  if ((components[0] as string).toLowerCase() === RESERVED_ROOT_COMPONENT) {
    throw invalid(`first component "${RESERVED_ROOT_COMPONENT}" is reserved`);
  }
  return components;
}

/**
 * Joins a remote directory and a relative name into one remote path and checks the result with
 * `parseRemotePath`. `dir` may be `''` (the root) and may end in one `/` (as users type `host:dir/`);
 * `name` may itself have several components.
 */
export function joinRemotePath(dir: string, name: string): string {
  const base = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  const joined = base === '' ? name : `${base}/${name}`;
  parseRemotePath(joined);
  return joined;
}

function invalid(detail: string): FerryError {
  return new FerryError('PATH_INVALID', detail);
}
