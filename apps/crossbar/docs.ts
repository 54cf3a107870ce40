/**
 * Documents as crossbar shows and takes them (Kazoo's crossbar_doc rules).
 *
 * Contract
 * - `publicDoc(doc)` drops every `pvt_*` and `_*` key (at the top level) and adds `id`.
 * - `privateFields(doc)` keeps only those keys, so a POST (replace) or PATCH (merge) of the
 *   public part never touches what the server owns.
 * - `mergePatch(target, patch)` merges objects recursively; a `null` in the patch deletes
 *   the key; arrays and scalars replace. Neither argument is changed.
 * - `requestData(body)` is the request envelope's `data` (an object) or a 400.
 */
import { CbError } from './errors.ts';

type Obj = Record<string, unknown>;

const isPrivate = (k: string): boolean => k.startsWith('pvt_') || k.startsWith('_');
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function publicDoc(doc: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(doc)) if (!isPrivate(k) && k !== 'id') out[k] = v;
  out.id = doc._id;
  return out;
}

export function privateFields(doc: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(doc)) if (isPrivate(k)) out[k] = v;
  return out;
}

/** The public keys of a request's data: private keys and `id` are the server's. */
export function publicInput(data: Obj): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(data)) if (!isPrivate(k) && k !== 'id') out[k] = v;
  return out;
}

export function mergePatch(target: Obj, patch: Obj): Obj {
  const out: Obj = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (isObj(v) && isObj(out[k])) out[k] = mergePatch(out[k] as Obj, v);
    else out[k] = v;
  }
  return out;
}

export function requestData(body: unknown): Obj {
  if (body === undefined || body === null) return {};
  if (!isObj(body))
    throw new CbError(400, 'invalid request envelope', {
      message: 'the body must be a JSON object {data, auth_token?}',
    });
  const data = body.data;
  if (data === undefined) return {};
  if (!isObj(data))
    throw new CbError(400, 'validation error', {
      data: { type: { message: 'Value is not of type object', target: 'object' } },
    });
  return data;
}
