/**
 * reg_success responder: records the registration (RegistrationTable.apply) and resolves
 * once the database has it, so that with after-handlers acks a registrar killed before
 * the write gets the message again from its named queue. A malformed contact or Expires is
 * logged and dropped; a failed write is logged (the registration stays cached).
 */

import type { Envelope, HandlerContext } from '../../src/bus/index.ts';
import type { RegistrationTable } from './registrations.ts';

export async function handleRegSuccess(table: RegistrationTable, msg: Envelope, ctx: HandlerContext): Promise<void> {
  const out = table.apply(msg, Date.now());
  if (out.result === 'rejected') {
    ctx.log.warn({ user: msg.Username, realm: msg.Realm, reason: out.reason }, 'reg_success rejected');
    return;
  }
  ctx.log.debug({ user: msg.Username, realm: msg.Realm, id: out.id, result: out.result }, 'reg_success');
  try {
    await out.persisted;
    ctx.log.debug({ id: out.id, result: out.result }, 'registration written');
  } catch (err) {
    ctx.log.error({ id: out.id, err: (err as Error).message }, 'reg_success: registration not written to the database (kept in cache)');
  }
}
