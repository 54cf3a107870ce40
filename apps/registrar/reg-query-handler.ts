/**
 * reg_query responder: the live registrations matching Realm / Username, answered to the
 * query's Server-ID.
 *
 * Contract
 * - Realm + Username: that user's registrations (reg_server's tables, read without a
 *   message; on a miss the database, for registrations another node stored: what is live
 *   is answered and sent to reg_server to keep, `adopt`). Realm alone (or Username `*`):
 *   every registration of the realm in the tables. Realm `all` or none: every one.
 * - Matches: reg_query_resp with Fields = one object per registration holding the
 *   requested Fields (all of them when Fields is empty or absent), or only Count with
 *   Count-Only. Registrar-Age = seconds since this registrar started.
 * - No match: reg_query_error (Kazoo's answer when nothing is registered).
 * - The database cannot be read (store down, no answer in time): reg_query_error with
 *   Error-Message = the store's reason, so the asker learns at once that the look-up
 *   failed (Kazoo's receivers ignore the extra header and read it as nothing
 *   registered); logged at warn with realm, user and reason. Never left unanswered.
 * - It never writes the tables: only reg_server does, from its mailbox.
 */
import { build, type BuildContext } from '../../src/api/index.ts';
import type { Envelope, HandlerContext } from '../../src/bus/index.ts';
import type { DocumentStore, SavedDoc } from '../../src/store/index.ts';
import { fromDoc, type Registration, type RegistrationView } from './registrations.ts';
import { REGISTRATIONS_DB } from './databases.ts';

/** What reg_query needs: the tables, the store, and the way to hand found documents to reg_server. */
export interface RegQueryDeps {
  view: RegistrationView;
  store: DocumentStore;
  adopt(docs: SavedDoc[]): void;
}

export function pickFields(reg: Registration, fields: readonly string[]): Record<string, unknown> {
  if (fields.length === 0) return { ...reg.fields };
  const out: Record<string, unknown> = {};
  for (const f of fields) if (reg.fields[f] !== undefined) out[f] = reg.fields[f];
  return out;
}

async function find(
  deps: RegQueryDeps,
  realm: string,
  username: string,
  now: number,
): Promise<Registration[]> {
  const kept = deps.view.live(realm, username, now);
  if (kept.length > 0) return kept;
  const res = await deps.store.view(REGISTRATIONS_DB, 'registrations/by_user_realm', {
    key: [realm.toLowerCase(), username.toLowerCase()],
    includeDocs: true,
  });
  const docs = res.rows.flatMap((r) => (r.doc ? [r.doc] : []));
  const live = docs.map(fromDoc).filter((r): r is Registration => r !== undefined && r.expiresAt > now);
  if (live.length > 0) deps.adopt(docs);
  return live;
}

export async function matchQuery(deps: RegQueryDeps, msg: Envelope, now: number): Promise<Registration[]> {
  const realm = typeof msg.Realm === 'string' && msg.Realm !== '' ? msg.Realm : 'all';
  const user =
    typeof msg.Username === 'string' && msg.Username !== '' && msg.Username !== '*'
      ? msg.Username
      : undefined;
  if (realm === 'all') return deps.view.all(now);
  return user === undefined ? deps.view.all(now, realm) : find(deps, realm, user, now);
}

export async function handleRegQuery(
  deps: RegQueryDeps,
  age: () => number,
  buildCtx: BuildContext,
  msg: Envelope,
  ctx: HandlerContext,
): Promise<void> {
  if (typeof msg['Server-ID'] !== 'string' || msg['Server-ID'] === '') {
    ctx.log.warn(
      { user: msg.Username, realm: msg.Realm },
      'reg_query without Server-ID: nobody to answer; dropped',
    );
    return;
  }
  let regs: Registration[];
  try {
    regs = await matchQuery(deps, msg, Date.now());
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    ctx.log.warn(
      { user: msg.Username, realm: msg.Realm, reason },
      'reg_query: registrations database unreadable; answered as failed',
    );
    await ctx.reply(
      build(
        'reg_query_error',
        { 'Msg-ID': msg['Msg-ID'], 'Registrar-Age': age(), 'Error-Message': reason },
        buildCtx,
      ),
    );
    return;
  }
  if (regs.length === 0) {
    await ctx.reply(build('reg_query_error', { 'Msg-ID': msg['Msg-ID'], 'Registrar-Age': age() }, buildCtx));
    return;
  }
  const countOnly = msg['Count-Only'] === true || msg['Count-Only'] === 'true';
  const fields = Array.isArray(msg.Fields) ? (msg.Fields as string[]) : [];
  const body = countOnly ? { Count: regs.length } : { Fields: regs.map((r) => pickFields(r, fields)) };
  await ctx.reply(
    build('reg_query_resp', { 'Msg-ID': msg['Msg-ID'], 'Registrar-Age': age(), ...body }, buildCtx),
  );
}
