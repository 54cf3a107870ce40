/**
 * callflow_vm_store: the voicemail messages of the callflow app (Kazoo 4.3's
 * kvm_message / kvm_messages), a gen_listener registered as `callflow_vm_store` under
 * callflow_sup. It outlives the calls, so a message recorded by a caller who hung up is
 * still stored.
 *
 * Contract
 * - `vmStoreMessage(rt, job)` (cast): saves the message document in the account's
 *   monthly database (MODB, created when missing) with Kazoo's fields (`_id`
 *   `YYYYMM-<hex>`, pvt_type `mailbox_message`, source_type `mailbox`, source_id the box,
 *   `utc_seconds`, pvt_created and pvt_modified the same Gregorian second as
 *   `metadata.timestamp` (kzd_box_message:new), `metadata` {timestamp, from, to,
 *   caller_id_number, caller_id_name, call_id, folder `new`, length, media_id}), then has
 *   the call's switch upload the recorded file to media_mgr's URL for the document's
 *   attachment: switch_command `send_http` to `switch.command.<node>`, the switch_reply
 *   back on this process's queue. A failed upload (Result error, or no reply in
 *   UPLOAD_TIMEOUT_MS) is retried RETRIES times, RETRY_MS apart, then the document is
 *   removed and the failure logged at error (`voicemail: message not stored`). Success is
 *   the info line `voicemail: message stored`.
 * - `vmMessages(rt, accountId, boxId)` (call): the box's messages of this month's and last
 *   month's MODB (Kazoo keeps them for months), oldest first (`metadata.timestamp`, an
 *   earlier Unix value read as the same time), each {db, id, metadata, url}.
 * - `vmSetFolder(rt, db, id, folder)` (call): the message's `metadata.folder` (Kazoo's
 *   kvm_message:set_folder), pvt_modified set again; answers true when saved.
 * - Store work runs inside the process; every failure is a log line and an error answer.
 */
import { asGregorianSeconds, gregorianSeconds } from '../../src/api/time.ts';
import { randomBytes } from 'node:crypto';
import { GenServer, noreply, ok, reply, type ChildSpec, type Runtime } from '../../src/kernel/index.ts';
import { GenListener, type GenListenerBehaviour } from '../../src/bus/gen-listener.ts';
import { build, switchCommandKey, type BuildContext } from '../../src/api/index.ts';
import { encodeJson, jsonProperties, type BusTransport, type Envelope } from '../../src/bus/index.ts';
import { accountModbName, withPvtTimes, type DocumentStore } from '../../src/store/index.ts';
import { mediaBaseUrl, mediaStoreUrl } from '../media_mgr/media-urls.ts';

export const CF_VM_STORE = 'callflow_vm_store';
export const RETRIES = 3;
export const RETRY_MS = 1000;
export const UPLOAD_TIMEOUT_MS = 30_000;

export interface VmArgs {
  readonly store: DocumentStore;
  readonly bus: BusTransport;
  readonly ctx: BuildContext;
}

export interface MessageJob {
  readonly accountId: string;
  readonly boxId: string;
  /** The switch node (Switch-Nodename) holding the file. */
  readonly node: string;
  readonly file: string;
  readonly attachment: string;
  readonly lengthMs: number;
  readonly callId: string;
  readonly from: string;
  readonly to: string;
  readonly callerIdNumber?: string;
  readonly callerIdName?: string;
}

export interface Message {
  readonly db: string;
  readonly id: string;
  readonly metadata: Record<string, unknown>;
  readonly url: string;
}

interface Upload {
  readonly job: MessageJob;
  readonly db: string;
  readonly id: string;
  readonly url: string;
  attempt: number;
}

interface State {
  readonly a: VmArgs;
  queue?: string;
  readonly uploads: Map<string, Upload>;
}

type Call =
  | { op: 'messages'; accountId: string; boxId: string }
  | { op: 'set_folder'; db: string; id: string; folder: string };
type Cast = { op: 'store'; job: MessageJob };
type Info =
  | { type: 'gen_listener'; event: string; queue: string }
  | { type: 'vm_retry'; msgId: string }
  | { type: 'vm_timeout'; msgId: string };

/** A message document's id, as Kazoo names MODB documents: `YYYYMM-<32 hex>` of `now`. */
export const messageDocId = (now: Date): string =>
  `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}-${randomBytes(16).toString('hex')}`;

/** The account's MODB of this month, or of `monthsBack` months before. */
export const modbOf = (accountId: string, monthsBack = 0): string => {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - monthsBack);
  return accountModbName(accountId, d.getUTCFullYear(), d.getUTCMonth() + 1);
};

function baseUrl(rt: Runtime): string {
  const base = mediaBaseUrl(rt);
  if (base === undefined) throw new Error('media_mgr does not run in this node (no store URL)');
  return base;
}

async function publishUpload(s: State, u: Upload, ctx: { sendAfter: (ms: number, m: unknown) => unknown }) {
  const msgId = randomBytes(8).toString('hex');
  s.uploads.set(msgId, u);
  const msg = build(
    'switch_command',
    {
      'Msg-ID': msgId,
      'Server-ID': s.queue,
      Command: 'send_http',
      'FreeSWITCH-Node': u.job.node,
      Args: { 'File-Name': u.job.file, Url: u.url, 'Http-Method': 'put' },
    },
    s.a.ctx,
  ) as unknown as Envelope;
  await s.a.bus.publish('switch', switchCommandKey(u.job.node), encodeJson(msg), jsonProperties());
  ctx.sendAfter(UPLOAD_TIMEOUT_MS, { type: 'vm_timeout', msgId } satisfies Info);
}

const VmStore: GenListenerBehaviour<State, VmArgs, Call, Cast> = {
  name: CF_VM_STORE,
  init: (a) => ok({ a, uploads: new Map() }),
  listen: () => ({ queue: '', bindings: [] }),
  async handleCall(c, _from, s, ctx) {
    try {
      if (c.op === 'set_folder') {
        const doc = await s.a.store.get(c.db, c.id);
        const metadata = { ...(doc.metadata as Record<string, unknown>), folder: c.folder };
        await s.a.store.save(c.db, withPvtTimes({ ...doc, metadata }));
        ctx.log.info({ db: c.db, id: c.id, folder: c.folder }, 'voicemail: message moved');
        return reply({ ok: true }, s);
      }
      const base = baseUrl(ctx.runtime);
      const found: Message[] = [];
      for (const db of [modbOf(c.accountId, 1), modbOf(c.accountId)]) {
        if (!(await s.a.store.dbExists(db))) continue;
        const rows = await s.a.store.allDocs(db, { includeDocs: true });
        for (const r of rows.rows) {
          const d = r.doc as Record<string, unknown> | undefined;
          if (d?.pvt_type !== 'mailbox_message' || d.source_id !== c.boxId) continue;
          const metadata = (d.metadata ?? {}) as Record<string, unknown>;
          const media = typeof metadata.media_id === 'string' ? metadata.media_id : String(d._id);
          const att = Object.keys((d._attachments ?? {}) as object)[0];
          if (att === undefined) continue;
          found.push({ db, id: String(d._id), metadata, url: mediaStoreUrl(base, db, media, att) });
        }
      }
      const at = (m: Message): number => asGregorianSeconds(m.metadata.timestamp) ?? 0;
      found.sort((x, y) => at(x) - at(y));
      return reply({ ok: found }, s);
    } catch (err) {
      ctx.log.error({ err, op: c.op }, 'voicemail: store request failed');
      return reply({ error: err instanceof Error ? err.message : String(err) }, s);
    }
  },
  async handleCast(c, s, ctx) {
    const j = c.job;
    const log = ctx.log.child({ call_id: j.callId });
    try {
      if (s.queue === undefined) throw new Error('no reply queue yet');
      const db = modbOf(j.accountId);
      await s.a.store.createDb(db);
      const now = new Date();
      const id = messageDocId(now);
      const t = gregorianSeconds(now.getTime());
      const url = mediaStoreUrl(baseUrl(ctx.runtime), db, id, j.attachment);
      await s.a.store.save(
        db,
        withPvtTimes(
          {
            _id: id,
            pvt_type: 'mailbox_message',
            pvt_account_id: j.accountId,
            pvt_account_db: db,
            utc_seconds: t,
            source_type: 'mailbox',
            source_id: j.boxId,
            media_source: 'recording',
            streamable: true,
            name: `mailbox ${j.boxId} message ${now.toISOString()}`,
            description: 'voicemail message with media',
            metadata: {
              timestamp: t,
              from: j.from,
              to: j.to,
              caller_id_number: j.callerIdNumber ?? '',
              caller_id_name: j.callerIdName ?? '',
              call_id: j.callId,
              folder: 'new',
              length: j.lengthMs,
              media_id: id,
            },
          },
          t,
        ),
      );
      await publishUpload(s, { job: j, db, id, url, attempt: 1 }, ctx);
    } catch (err) {
      log.error({ err, box: j.boxId, file: j.file }, 'voicemail: message not stored');
    }
    return noreply(s);
  },
  async handleEvent(m, s, ctx) {
    if (m['Event-Category'] !== 'switch_event' || m['Event-Name'] !== 'reply') return s;
    const msgId = String(m['Msg-ID']);
    const u = s.uploads.get(msgId);
    if (u === undefined) return s;
    s.uploads.delete(msgId);
    const log = ctx.log.child({ call_id: u.job.callId });
    if (m.Result === 'success') {
      log.info({ db: u.db, id: u.id, length: u.job.lengthMs, box: u.job.boxId }, 'voicemail: message stored');
      return s;
    }
    await retryOrGiveUp(s, u, String(m.Error ?? m.Result), ctx);
    return s;
  },
  async handleInfo(msg, s, ctx) {
    const m = msg as Info;
    if (m.type === 'gen_listener') return noreply({ ...s, queue: m.queue });
    const u = s.uploads.get(m.msgId);
    if (u === undefined) return noreply(s);
    s.uploads.delete(m.msgId);
    if (m.type === 'vm_timeout') {
      await retryOrGiveUp(s, u, 'no switch_reply in time', ctx);
      return noreply(s);
    }
    try {
      await publishUpload(s, u, ctx);
    } catch (err) {
      await retryOrGiveUp(s, u, err instanceof Error ? err.message : String(err), ctx);
    }
    return noreply(s);
  },
};

async function retryOrGiveUp(
  s: State,
  u: Upload,
  reason: string,
  ctx: { log: import('../../src/kernel/index.ts').Logger; sendAfter: (ms: number, m: unknown) => unknown },
): Promise<void> {
  const log = ctx.log.child({ call_id: u.job.callId });
  if (u.attempt <= RETRIES) {
    log.warn({ reason, attempt: u.attempt, url: u.url }, 'voicemail: upload failed; retrying');
    const msgId = randomBytes(8).toString('hex');
    s.uploads.set(msgId, { ...u, attempt: u.attempt + 1 });
    ctx.sendAfter(RETRY_MS, { type: 'vm_retry', msgId } satisfies Info);
    return;
  }
  let removed = false;
  try {
    const doc = await s.a.store.get(u.db, u.id);
    await s.a.store.remove(u.db, u.id, String(doc._rev));
    removed = true;
  } catch (err) {
    log.error({ err, db: u.db, id: u.id }, 'voicemail: message document not removed');
  }
  log.error({ reason, attempts: u.attempt, db: u.db, id: u.id, removed }, 'voicemail: message not stored');
}

export const vmStoreChildSpec = (a: VmArgs): ChildSpec =>
  GenListener.childSpec('callflow_vm_store', VmStore, a, {
    transport: a.bus,
    name: CF_VM_STORE,
    shutdown: 5000,
    appName: 'callflow',
  });

async function ask<T>(rt: Runtime, req: Call): Promise<T> {
  const r = (await GenServer.call(rt, CF_VM_STORE, req)) as { ok?: T; error?: string };
  if (r.error !== undefined) throw new Error(r.error);
  return r.ok as T;
}

export const vmStoreMessage = (rt: Runtime, job: MessageJob): void => {
  GenServer.cast(rt, CF_VM_STORE, { op: 'store', job } satisfies Cast);
};
export const vmMessages = (rt: Runtime, accountId: string, boxId: string) =>
  ask<Message[]>(rt, { op: 'messages', accountId, boxId });
export const vmSetFolder = (rt: Runtime, db: string, id: string, folder: string) =>
  ask<boolean>(rt, { op: 'set_folder', db, id, folder });
