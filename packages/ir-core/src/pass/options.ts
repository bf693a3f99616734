// Option validation shared by passes and plugins: run a zod schema over user-supplied
// options and turn the first failure into a KilnError naming the owner and the field.
import { z } from 'zod';
import type { ErrorCode } from '../errors.js';
import { KilnError } from '../errors.js';

/** Plain option values: what pipeline text and config files can express. */
export type OptionValue =
  | string
  | number
  | boolean
  | null
  | readonly OptionValue[]
  | { readonly [k: string]: OptionValue };
export type OptionRecord = Readonly<Record<string, unknown>>;

/** Error code for invalid pass options (errors.ts has no entry for it yet). */
export const PASS_OPTIONS = 'PASS_OPTIONS';

function pathText(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

/**
 * Reject unknown keys of object schemas: a misspelt option must not be silently
 * dropped. Other schemas are used as given.
 */
export function strictSchema(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodObject) {
    const def = schema.def as { catchall?: unknown };
    // A schema the author made loose or gave a catchall keeps its own policy.
    if (def.catchall === undefined) return schema.strict();
  }
  return schema;
}

/**
 * Validate `value` against `schema`. `owner` names what the options belong to, e.g.
 * `pass 'relax.FuseOps'` or `plugin 'acme'`.
 */
export function validateOptions<O>(schema: z.ZodType<O>, value: unknown, owner: string, code: ErrorCode): O {
  const res = schema.safeParse(value);
  if (res.success) return res.data;
  const issue = res.error.issues[0];
  let field = pathText(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (field ? `${field}.${k}` : k));
    throw new KilnError(code, `${owner}: unknown option ${keys.map((k) => `'${k}'`).join(', ')}`, {
      details: {
        field: keys[0],
        issues: res.error.issues.map((i) => ({ path: pathText(i.path), message: i.message })),
      },
    });
  }
  if (field === '') field = '<options>';
  throw new KilnError(code, `${owner}: option '${field}': ${issue.message}`, {
    details: { field, issues: res.error.issues.map((i) => ({ path: pathText(i.path), message: i.message })) },
    notes: res.error.issues.slice(1).map((i) => `option '${pathText(i.path) || '<options>'}': ${i.message}`),
  });
}
