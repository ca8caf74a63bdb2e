import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command, Option, OptionValues } from 'commander';
import { z } from 'zod';
import { FerryError } from '../errors/index.js';
import { refuseUnlessOwnedByUs } from '../home/index.js';

/** `serve` options that are not server settings: the global ones, and --config itself. */
const NOT_SETTINGS = new Set(['--config', '--home', '--debug']);

/** Keys holding paths: a relative one is taken from the config file's folder, not the working directory. */
const PATH_KEYS = new Set(['root', 'log-file']);

/** A config file's key for an option: the flag without its dashes (`--max-file-size` -> `max-file-size`). */
function keyOf(option: Option): string {
  return option.long!.slice(2);
}

function settingOptions(command: Command): Option[] {
  return command.options.filter((option) => option.long !== undefined && !NOT_SETTINGS.has(option.long));
}

/**
 * The schema of `ferry serve --config FILE`, built from the command's own options so that every flag is a key
 * and a flag added later is one too. Switches take booleans; the others a string or a whole number, which
 * then goes through the same parser as the flag (sizes, durations, addresses: one rule for both). Unknown
 * keys are refused: a misspelt key silently ignored would run a server with a default the operator meant
 * to change.
 */
export function serveConfigSchema(command: Command): z.ZodType<Record<string, string | boolean | undefined>> {
  const shape: Record<string, z.ZodType> = {};
  for (const option of settingOptions(command)) {
    shape[keyOf(option)] = option.isBoolean()
      ? z.boolean({ error: 'expected true or false' }).optional()
      : z
          .union([z.string().min(1), z.number().int().nonnegative()], {
            error: 'expected a string or a whole number',
          })
          .transform(String)
          .optional();
  }
  return z.strictObject(shape) as z.ZodType<Record<string, string | boolean | undefined>>;
}

/** One clause per problem, naming the key: `unknown key "lsten"`, `"listen": expected a string or a whole number`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys')
        return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      const where = issue.path.length > 0 ? `${JSON.stringify(issue.path.join('.'))}: ` : '';
      return `${where}${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
    })
    .join('; ');
}

/**
 * Applies `--config FILE` (JSON) to the `serve` command's options and returns them: a key sets its option
 * unless the flag was given on the command line, which always wins. Throws USAGE_INVALID when the file
 * cannot be read, CONFIG_INVALID naming the file when group or others may write it or another user (not
 * root) owns it, and naming the key when it is not JSON or does not fit the schema.
 */
export async function applyServeConfig<T extends OptionValues>(command: Command): Promise<T> {
  const file = command.getOptionValue('config') as string | undefined;
  if (file === undefined) return command.opts<T>();
  let text: string;
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new FerryError('USAGE_INVALID', `--config ${file} cannot be read: ${code.toLowerCase()}`, {
      cause: err,
    });
  }
  try {
    // It chooses the root, the coordination service (whose allow-list admits clients) and every limit: a
    // file someone else may write is refused as the home's files are (OpenSSH's StrictModes), checked on the
    // handle read.
    const stats = await handle.stat();
    if (process.platform !== 'win32' && (stats.mode & 0o022) !== 0)
      throw new FerryError(
        'CONFIG_INVALID',
        `${file} is writable by group or others (mode 0${(stats.mode & 0o777).toString(8)}); run \`chmod go-w ${file}\``,
      );
    refuseUnlessOwnedByUs(stats, file, 'CONFIG_INVALID');
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FerryError('CONFIG_INVALID', `${file} is not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const parsed = serveConfigSchema(command).safeParse(json);
  if (!parsed.success)
    throw new FerryError(
      'CONFIG_INVALID',
      `${file}: ${describeIssues(parsed.error)} (keys are \`ferry serve\` flags without the dashes)`,
    );
  const options = new Map(settingOptions(command).map((option) => [keyOf(option), option]));
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value === undefined) continue;
    const name = options.get(key)!.attributeName();
    const source = command.getOptionValueSource(name);
    if (source === 'cli' || source === 'env') continue;
    const setting = PATH_KEYS.has(key) && typeof value === 'string' ? resolve(dirname(file), value) : value;
    command.setOptionValueWithSource(name, setting, 'config');
  }
  return command.opts<T>();
}
