import { FerryError } from '../errors/index.js';
import { isPermission, type Permission } from './permissions.js';

/**
 * Where a value being checked came from: a config file (its validator adds the file and field to the
 * message and raises CONFIG_INVALID) or the command line (USAGE_INVALID at once).
 */
export type FieldSource = 'config' | 'usage';

/** Longest label for a client or an invite. */
export const MAX_NAME_CHARS = 200;

/** Rejects a field: a plain Error for config validators to wrap, a USAGE_INVALID for the command line. */
export function invalidField(source: FieldSource, field: string, what: string): never {
  if (source === 'config') throw new Error(`${field} ${what}`);
  throw new FerryError('USAGE_INVALID', `${field} ${what}`);
}

/** A label for humans: 1 to MAX_NAME_CHARS characters, no control characters. */
export function checkName(name: unknown, source: FieldSource): string {
  if (typeof name !== 'string') return invalidField(source, 'name', 'must be a string');
  // Control characters in a label could rewrite the terminal when a list of clients or invites is printed.
  if (name.length === 0 || name.length > MAX_NAME_CHARS || /\p{Cc}/u.test(name)) {
    return invalidField(source, 'name', `must be 1-${MAX_NAME_CHARS} characters without control characters`);
  }
  return name;
}

/** A non-empty list of distinct permissions, `upload` and/or `download`. */
export function checkPermissions(permissions: unknown, source: FieldSource): Permission[] {
  if (!Array.isArray(permissions))
    return invalidField(source, 'permissions', 'must be an array of "upload" / "download"');
  if (permissions.length === 0) return invalidField(source, 'permissions', 'must not be empty');
  const out: Permission[] = [];
  for (const p of permissions as unknown[]) {
    if (!isPermission(p))
      return invalidField(source, 'permissions', `has unknown permission ${JSON.stringify(p)}`);
    if (out.includes(p)) return invalidField(source, 'permissions', `lists ${JSON.stringify(p)} twice`);
    out.push(p);
  }
  return out;
}

/** A JSON object (not null, not an array): what every config file and entry must be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
