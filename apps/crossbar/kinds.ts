/**
 * What differs between the account-database documents crossbar serves (users, devices,
 * callflows): their type, schema, listing view, and the checks and derived fields of a
 * save (Kazoo's cb_users / cb_devices / cb_callflows validate steps).
 *
 * - users: `username` lower-cased and unique in the account; with `password`, the
 *   password leaves the document and `pvt_md5_auth` / `pvt_sha1_auth` (of
 *   `username:password`, hex) take its place, so the user can log in (user_auth). A new
 *   username with no password is refused (the stored hashes would not match it).
 * - devices: `sip.username` unique in the account (the registrar looks devices up by it
 *   in the realm's account).
 * - callflows: each of `numbers` / `patterns` used by no other callflow of the account.
 * - vmboxes: `mailbox` (the number callers key in to log in) unique in the account; the
 *   documents apps/callflow's voicemail module reads. Listed rows carry `messages`, the
 *   count of the box's messages not deleted (mailbox-messages.ts).
 * - media: no further check (the audio is an attachment, media-routes.ts).
 * - menus: no further check; the documents apps/callflow's menu module reads.
 * - directories: no further check (Kazoo's plain directory documents: name, min_dial,
 *   max_dial, sort_by, confirm_match, users).
 * - queues: no further check (Kazoo's cb_queues documents, listed with name and strategy);
 *   apps/acdc's directory follows the account database and starts, restarts or stops the
 *   queue's manager and workers as they are created, changed or deleted.
 */
import { createHash } from 'node:crypto';
import type { DocumentStore } from '../../src/store/index.ts';
import { validationError, type FieldErrors } from './errors.ts';
import { countsByBox, recentMessages } from './mailbox-messages.ts';
import {
  callflowSchema,
  deviceSchema,
  directorySchema,
  mediaSchema,
  menuSchema,
  queueSchema,
  userSchema,
  vmboxSchema,
} from './schemas.ts';
import { validator } from './validate.ts';
import { callflowMetadata } from './callflow-metadata.ts';

type Obj = Record<string, unknown>;

export interface Kind {
  /** The URL segment: users, devices, callflows. */
  path: string;
  /** pvt_type of its documents. */
  type: string;
  listView: string;
  /** The JSON schema its documents are checked with (also the OpenAPI request body). */
  schema: object;
  /** Adds to the listed rows what the listing view cannot know (vmboxes: `messages`). */
  listRows?(store: DocumentStore, accountId: string, rows: Obj[]): Promise<Obj[]>;
  /** Adds to a GET of one document what Kazoo answers beside it (callflows: `metadata`). */
  readExtra?(store: DocumentStore, db: string, doc: Obj): Promise<Obj>;
  /** `?with_status=true` adds each listed row's `registered` (device-status.ts). */
  withStatus?: boolean;
  validate(data: Obj): Obj;
  /** Checks against the account's other documents; answers the data to store and private fields to add. */
  prepare(
    store: DocumentStore,
    db: string,
    data: Obj,
    existing: Obj | undefined,
  ): Promise<{ data: Obj; pvt: Obj }>;
}

const hex = (alg: string, s: string): string => createHash(alg).update(s).digest('hex');

async function takenBy(
  store: DocumentStore,
  db: string,
  view: string,
  key: string,
  self: unknown,
): Promise<string | undefined> {
  const rows = (await store.view(db, view, { key })).rows;
  return rows.find((r) => r.id !== self)?.id;
}

export function credentialHashes(
  username: string,
  password: string,
): { pvt_md5_auth: string; pvt_sha1_auth: string } {
  const s = `${username.toLowerCase()}:${password}`;
  return { pvt_md5_auth: hex('md5', s), pvt_sha1_auth: hex('sha1', s) };
}

export const users: Kind = {
  path: 'users',
  type: 'user',
  listView: 'crossbar_listings/users',
  schema: userSchema,
  validate: validator(userSchema),
  async prepare(store, db, data, existing) {
    const out = { ...data };
    const pvt: Obj = {};
    const errors: FieldErrors = {};
    if (typeof out.username === 'string') {
      out.username = out.username.trim().toLowerCase();
      const other = await takenBy(
        store,
        db,
        'crossbar_listings/users_by_username',
        out.username as string,
        existing?._id,
      );
      if (other !== undefined)
        errors.username = {
          unique: { message: 'Username is not unique for this account', cause: out.username },
        };
    }
    const password = out.password;
    delete out.password;
    if (typeof password === 'string') {
      if (typeof out.username !== 'string')
        errors.username = {
          required: { message: 'Field is required but missing (a password needs a username)' },
        };
      else Object.assign(pvt, credentialHashes(out.username as string, password));
    } else if (typeof out.username === 'string' && out.username !== existing?.username) {
      errors.password = { required: { message: 'Field is required but missing (the username changed)' } };
    } else if (out.username === undefined && existing !== undefined) {
      // No username: nobody logs in as this user.
      pvt.pvt_md5_auth = undefined;
      pvt.pvt_sha1_auth = undefined;
    }
    if (Object.keys(errors).length > 0) throw validationError(errors);
    return { data: out, pvt };
  },
};

export const devices: Kind = {
  path: 'devices',
  type: 'device',
  listView: 'crossbar_listings/devices',
  withStatus: true,
  schema: deviceSchema,
  validate: validator(deviceSchema),
  async prepare(store, db, data, existing) {
    const sip = data.sip as Obj | undefined;
    if (typeof sip?.username === 'string') {
      const other = await takenBy(
        store,
        db,
        'crossbar_listings/devices_by_sip_username',
        sip.username.toLowerCase(),
        existing?._id,
      );
      if (other !== undefined)
        throw validationError({
          'sip.username': { unique: { message: 'SIP credentials already in use', cause: sip.username } },
        });
    }
    return { data, pvt: {} };
  },
};

export const callflows: Kind = {
  path: 'callflows',
  type: 'callflow',
  listView: 'crossbar_listings/callflows',
  readExtra: async (store, db, doc) => ({ metadata: await callflowMetadata(store, db, doc.flow) }),
  schema: callflowSchema,
  validate: validator(callflowSchema),
  async prepare(store, db, data, existing) {
    const errors: FieldErrors = {};
    for (const field of ['numbers', 'patterns'] as const) {
      for (const n of (data[field] as string[] | undefined) ?? []) {
        const other = await takenBy(store, db, 'crossbar_listings/callflows_by_number', n, existing?._id);
        if (other !== undefined)
          errors[field] = { unique: { message: `${n} exists in callflow ${other}`, cause: n } };
      }
    }
    if (Object.keys(errors).length > 0) throw validationError(errors);
    // `metadata` is computed on each GET: a client sending back what it read stores none.
    const { metadata: _metadata, ...rest } = data;
    return { data: rest, pvt: {} };
  },
};

const plain = (path: string, type: string, schema: object): Kind => ({
  path,
  type,
  listView: `crossbar_listings/${path}`,
  schema,
  validate: validator(schema),
  prepare: async (_store, _db, data) => ({ data, pvt: {} }),
});

export const vmboxes: Kind = {
  ...plain('vmboxes', 'vmbox', vmboxSchema),
  async prepare(store, db, data, existing) {
    const mailbox = data.mailbox as string;
    const other = await takenBy(store, db, 'crossbar_listings/vmboxes_by_mailbox', mailbox, existing?._id);
    if (other !== undefined)
      throw validationError({
        mailbox: { unique: { message: `mailbox ${mailbox} exists in vmbox ${other}`, cause: mailbox } },
      });
    return { data, pvt: {} };
  },
  async listRows(store, accountId, rows) {
    const counts = countsByBox(await recentMessages(store, accountId));
    return rows.map((r) => ({ ...r, messages: counts.get(r.id) ?? 0 }));
  },
};

export const media = plain('media', 'media', mediaSchema);
export const menus = plain('menus', 'menu', menuSchema);

export const directories = plain('directories', 'directory', directorySchema);

export const queues = plain('queues', 'queue', queueSchema);

export const KINDS: readonly Kind[] = [users, devices, callflows, vmboxes, media, menus, directories, queues];
