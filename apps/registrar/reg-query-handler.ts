/**
 * reg_query responder: the live registrations matching Realm / Username, answered to the
 * query's Server-ID.
 *
 * Contract
 * - Realm + Username: that user's registrations (cache, then database). Realm alone (or
 *   Username `*`): every cached registration of the realm. Realm `all` or none: every
 *   cached registration.
 * - Matches: reg_query_resp with Fields = one object per registration holding the
 *   requested Fields (all of them when Fields is empty or absent), or only Count with
 *   Count-Only. Registrar-Age = seconds since this registrar started.
 * - No match: reg_query_error (Kazoo's answer when nothing is registered).
 */
import { build, type BuildContext } from '../../src/api/index.ts';
import type { Envelope, HandlerContext } from '../../src/bus/index.ts';
import type { Registration, RegistrationTable } from './registrations.ts';

export function pickFields(reg: Registration, fields: readonly string[]): Record<string, unknown> {
  if (fields.length === 0) return { ...reg.fields };
  const out: Record<string, unknown> = {};
  for (const f of fields) if (reg.fields[f] !== undefined) out[f] = reg.fields[f];
  return out;
}

export async function matchQuery(table: RegistrationTable, msg: Envelope, now: number): Promise<Registration[]> {
  const realm = typeof msg.Realm === 'string' && msg.Realm !== '' ? msg.Realm : 'all';
  const user = typeof msg.Username === 'string' && msg.Username !== '' && msg.Username !== '*' ? msg.Username : undefined;
  if (realm === 'all') return table.all(now);
  return user === undefined ? table.all(now, realm) : table.find(realm, user, now);
}

export async function handleRegQuery(table: RegistrationTable, age: () => number, buildCtx: BuildContext, msg: Envelope, ctx: HandlerContext): Promise<void> {
  if (typeof msg['Server-ID'] !== 'string' || msg['Server-ID'] === '') {
    ctx.log.warn({ user: msg.Username, realm: msg.Realm }, 'reg_query without Server-ID: nobody to answer; dropped');
    return;
  }
  const regs = await matchQuery(table, msg, Date.now());
  if (regs.length === 0) {
    await ctx.reply(build('reg_query_error', { 'Msg-ID': msg['Msg-ID'], 'Registrar-Age': age() }, buildCtx));
    return;
  }
  const countOnly = msg['Count-Only'] === true || msg['Count-Only'] === 'true';
  const fields = Array.isArray(msg.Fields) ? (msg.Fields as string[]) : [];
  const body = countOnly ? { Count: regs.length } : { Fields: regs.map((r) => pickFields(r, fields)) };
  await ctx.reply(build('reg_query_resp', { 'Msg-ID': msg['Msg-ID'], 'Registrar-Age': age(), ...body }, buildCtx));
}
