import { FerryError } from '../errors/index.js';
import { RESERVED_ROOT_COMPONENT } from '../protocol/index.js';

/**
 * The lexical join of a link's directory and its `target` must stay inside a root: `..` may climb only as
 * far as the root's depth in `linkComponents` (PROTOCOL.md §5.10). Absolute targets and empty components
 * are refused. Used by the server for PUT_LINK, by the client for links a server lists (a hostile server
 * must not plant a link that leads out of the download), and when deciding which local links to send.
 */
export function assertLinkStaysInside(
  linkComponents: readonly string[],
  target: string,
  rootDepth: number,
): void {
  if (target.startsWith('/') || target.includes('\\'))
    throw new FerryError('PATH_ESCAPES_ROOT', 'link target is absolute');
  const stack = linkComponents.slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '') throw new FerryError('PATH_INVALID', 'link target has an empty component');
    if (part === '.') continue;
    if (part === '..') {
      if (stack.length <= rootDepth) throw new FerryError('PATH_ESCAPES_ROOT', 'link target leaves the root');
      stack.pop();
    } else {
      stack.push(part);
    }
  }
  if (stack[0]?.toLowerCase() === RESERVED_ROOT_COMPONENT)
    throw new FerryError('PATH_ESCAPES_ROOT', 'link target is reserved');
}
